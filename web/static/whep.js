// B-Connect WHEP player (RFC 9725): one per grid tile. It offers to receive
// video, posts the offer to /api/cameras/{id}/whep, retries with backoff,
// falls back from a failing sub stream to the main one, and restarts a stalled
// picture. Plain JavaScript with standard APIs only, for current Chromium and
// Firefox. The page (app.js) gives each tile a Player and a host object.
(function () {
  "use strict";

  const STALL_MS = 10000; // no decoded frame for this long while online: reconnect
  const ICE_GATHER_MS = 3000;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 15000;

  // The codec name of an SDP answer's video payload type ("H264", "VP8").
  function answeredCodec(sdp) {
    const m = /^m=video \S+ \S+ (\d+)/m.exec(sdp);
    const map = m && new RegExp("^a=rtpmap:" + m[1] + " ([\\w-]+)/", "m").exec(sdp);
    return map ? map[1].toUpperCase() : null;
  }

  function iceGatheringDone(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ICE_GATHER_MS); // send what we have rather than hang
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === "complete") done();
      }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  class Player {
    // tile: video, message(text), meta(text), update(); host: what app.js offers
    // (csrfHeaders, reason, toLogin, cameraState(id), subStreamFailed(id)).
    constructor(tile, host) {
      this.tile = tile;
      this.host = host;
      this.pc = null;
      this.location = null;
      this.codec = null; // what the answer named: "H264", or "VP8" (transcoded)
      this.cameraId = null;
      this.run = 0; // bumps on every start/stop; stale async work checks it
      this.timer = null;
      this.failures = 0;
      this.lastFrames = 0;
      this.lastProgress = 0;
    }

    start(cameraId, stream) {
      this.stop();
      this.cameraId = cameraId;
      this.stream = stream || "main"; // "sub": the camera's smaller stream, for small tiles
      this.failures = 0;
      this.connect(++this.run);
    }

    stop() {
      this.run++;
      clearTimeout(this.timer);
      this.timer = null;
      this.teardown();
      this.cameraId = null;
      this.tile.video.srcObject = null;
    }

    teardown() {
      if (this.location) {
        fetch(this.location, { method: "DELETE", credentials: "same-origin", headers: this.host.csrfHeaders(), keepalive: true })
          .catch(() => {});
        this.location = null;
      }
      if (this.pc) {
        this.pc.close();
        this.pc = null;
      }
      this.codec = null;
    }

    // A sub stream that fails twice (wrong URL, the camera's second encoder off)
    // gives way to the main stream for this camera, for the rest of the session.
    fallBackToMain() {
      this.host.subStreamFailed(this.cameraId);
      this.start(this.cameraId, "main");
    }

    retry(message, delayMs) {
      if (this.stream === "sub" && this.failures >= 1) return this.fallBackToMain();
      const run = this.run;
      this.teardown();
      this.failures++;
      const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures - 1, 4));
      this.tile.message(message);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        if (run === this.run) this.connect(run);
      }, delayMs || backoff);
    }

    async connect(run) {
      const cameraId = this.cameraId;
      this.tile.message(this.failures ? "Reconnecting…" : "Connecting…");
      const pc = new RTCPeerConnection({ iceServers: [] });
      this.pc = pc;
      this.lastFrames = 0;
      this.lastProgress = performance.now();
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addEventListener("track", (event) => {
        const stream = event.streams && event.streams[0] ? event.streams[0] : new MediaStream([event.track]);
        this.tile.video.srcObject = stream;
        this.tile.video.play().catch(() => {});
      });
      pc.addEventListener("connectionstatechange", () => {
        if (run !== this.run || pc !== this.pc) return;
        const state = pc.connectionState;
        if (state === "connected") {
          this.failures = 0;
        } else if (state === "failed") {
          this.retry("Connection lost, reconnecting…");
        } else if (state === "disconnected") {
          setTimeout(() => {
            if (run === this.run && pc === this.pc && pc.connectionState === "disconnected") {
              this.retry("Connection lost, reconnecting…");
            }
          }, 4000);
        }
      });
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await iceGatheringDone(pc);
        if (run !== this.run) return;
        const query = this.stream === "sub" ? "?stream=sub" : "";
        const response = await fetch("/api/cameras/" + encodeURIComponent(cameraId) + "/whep" + query, {
          method: "POST",
          credentials: "same-origin",
          headers: Object.assign({ "Content-Type": "application/sdp" }, this.host.csrfHeaders()),
          body: pc.localDescription.sdp,
        });
        if (response.status === 201) {
          const location = response.headers.get("Location");
          const answer = await response.text();
          if (run !== this.run) {
            fetch(location, { method: "DELETE", credentials: "same-origin", headers: this.host.csrfHeaders() }).catch(() => {});
            return;
          }
          this.location = location;
          await pc.setRemoteDescription({ type: "answer", sdp: answer });
          this.codec = answeredCodec(answer);
          this.tile.update();
          this.tile.message(this.host.cameraState(cameraId) === "online" ? "" : "Waiting for the camera…");
          return;
        }
        if (run !== this.run) return;
        if (response.status === 401) return this.host.toLogin();
        const why = await this.host.reason(response);
        if (response.status === 404) {
          this.teardown();
          this.tile.message("Camera not available: " + why);
          return;
        }
        if (response.status === 400 && this.stream === "sub") return this.fallBackToMain();
        if (response.status === 400) {
          // final: the same offer would be refused again (e.g. a browser with neither H.264 nor VP8)
          this.teardown();
          this.tile.message("This browser cannot play this camera: " + why);
          return;
        }
        const after = Number(response.headers.get("Retry-After"));
        this.retry(why.charAt(0).toUpperCase() + why.slice(1), after > 0 ? after * 1000 : 0);
      } catch (error) {
        if (run === this.run) this.retry("Cannot reach the server, retrying…");
      }
    }

    // Called by the watchdog: frames decoded, and a stalled picture restarted.
    async check() {
      const pc = this.pc;
      if (!pc || pc.connectionState !== "connected") return;
      let frames = 0;
      let width = 0;
      let height = 0;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          frames = s.framesDecoded || 0;
          width = s.frameWidth || 0;
          height = s.frameHeight || 0;
        }
      });
      if (pc !== this.pc) return;
      const now = performance.now();
      if (frames > this.lastFrames) {
        // our own rate: the GOP cache arrives in a burst that the browser's
        // framesPerSecond would count as live frames
        const fps = this.lastFrames ? ((frames - this.lastFrames) * 1000) / (now - this.lastProgress) : 0;
        this.lastFrames = frames;
        this.lastProgress = now;
        this.tile.message("");
        const size = width && height ? width + "×" + height + (fps ? " · " + Math.round(fps) + " fps" : "") : "";
        this.tile.meta(size && this.stream === "sub" ? size + " · sub" : size);
      } else {
        const state = this.host.cameraState(this.cameraId);
        if (state !== "online") {
          // the server keeps this session through a camera restart: wait
          this.lastProgress = now;
          this.tile.message("No signal: camera " + state);
        } else if (now - this.lastProgress > STALL_MS) {
          this.retry("No picture, reconnecting…", 100);
        }
      }
    }
  }

  window.BConnectWhep = { Player: Player, answeredCodec: answeredCodec };
})();
