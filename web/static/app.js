// B-Connect live view: a camera grid, one WHEP (RFC 9725) viewer per tile.
// Plain JavaScript with standard APIs only, for current Chromium and Firefox.
(function () {
  "use strict";

  const POLL_MS = 3000;
  const WATCHDOG_MS = 2000;
  const STALL_MS = 10000; // no decoded frame for this long while online: reconnect
  const ICE_GATHER_MS = 3000;
  const RETRY_MIN_MS = 1000;
  const RETRY_MAX_MS = 15000;
  const LAYOUTS = [1, 4, 9, 16];
  const STORE = "bconnect.view";
  const AGENCY_NAMES = { dishub: "Dishub", polri: "Polri", kejaksaan: "Kejaksaan", pemkot: "Pemkot" };

  const $ = (id) => document.getElementById(id);
  const saved = readSaved();
  const view = {
    me: null,
    cameras: [],
    byId: new Map(),
    layout: LAYOUTS.includes(saved.layout) ? saved.layout : 4,
    area: saved.area || "",
    agency: saved.agency || "",
    text: "",
    page: 0,
    pinned: new Map(), // tile index -> camera id chosen from the list
    selected: 0,
    subFailed: new Set(), // cameras whose sub stream failed: their small tiles play the main stream
  };
  const tiles = [];
  let ptz = null; // the PTZ panel (ptz.js), built once the user is known
  let zones = null; // the zone editor and the tiles' zone overlays (zones.js)

  // For tests and diagnostics: the live peer connections of the grid.
  window.bconnect = {
    tiles: tiles,
    peers: () => tiles.filter((t) => t.player.pc).map((t) => ({ cameraId: t.cameraId, pc: t.player.pc })),
  };

  function readSaved() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function save() {
    try {
      localStorage.setItem(STORE, JSON.stringify({ layout: view.layout, area: view.area, agency: view.agency }));
    } catch (e) {
      /* private mode: not remembered */
    }
  }

  function toLogin() {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  function banner(text) {
    const el = $("banner");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function csrfHeaders() {
    const token = view.me && view.me.csrf_token;
    return token ? { "X-CSRF-Token": token } : {};
  }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    if (response.status === 401) {
      toLogin();
      throw new Error("not logged in");
    }
    return response;
  }

  async function reason(response) {
    try {
      const body = await response.clone().json();
      if (body && body.error) return body.error;
    } catch (e) {
      /* not JSON */
    }
    return response.statusText || "HTTP " + response.status;
  }

  // --- camera data ----------------------------------------------------------

  function stateOf(cam) {
    return (cam && ((cam.status && cam.status.state) || cam.state)) || "offline";
  }

  function transcodingOf(cam) {
    return Boolean(cam && ((cam.status && cam.status.transcoding) || cam.transcoding));
  }

  // What this tile plays when it is not the camera's own packets: VP8 (a
  // browser without H.264, e.g. Firefox without OpenH264) or H.265 made H.264.
  function transcodeLabel(cam, codec) {
    if (codec === "VP8") return " · transcoded to VP8";
    const hevc = cam && cam.stream && cam.stream.codec === "hevc";
    return transcodingOf(cam) && hevc ? " · H.265→H.264" : "";
  }

  // The codec name of an SDP answer's video payload type ("H264", "VP8").
  function answeredCodec(sdp) {
    const m = /^m=video \S+ \S+ (\d+)/m.exec(sdp);
    const map = m && new RegExp("^a=rtpmap:" + m[1] + " ([\\w-]+)/", "m").exec(sdp);
    return map ? map[1].toUpperCase() : null;
  }

  function areaName(cam) {
    return cam.area_name || (cam.area ? cam.area.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase()) : "");
  }

  function agencyName(code) {
    return AGENCY_NAMES[code] || code || "";
  }

  function filtered() {
    const text = view.text.toLowerCase();
    return view.cameras.filter(
      (c) =>
        (!view.area || c.area === view.area) &&
        (!view.agency || c.agency === view.agency) &&
        (!text || (c.name + " " + c.id + " " + areaName(c)).toLowerCase().includes(text))
    );
  }

  async function loadCameras() {
    const response = await api("/api/cameras");
    if (!response.ok) throw new Error(await reason(response));
    const body = await response.json();
    const list = Array.isArray(body) ? body : body.cameras || [];
    const known = view.cameras.map((c) => c.id).join("\n");
    view.cameras = list.slice().sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    view.byId = new Map(view.cameras.map((c) => [c.id, c]));
    return known !== view.cameras.map((c) => c.id).join("\n");
  }

  // --- WHEP player (one per tile) ---------------------------------------------

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
    constructor(tile) {
      this.tile = tile;
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
        fetch(this.location, { method: "DELETE", credentials: "same-origin", headers: csrfHeaders(), keepalive: true })
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
      view.subFailed.add(this.cameraId);
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
          headers: Object.assign({ "Content-Type": "application/sdp" }, csrfHeaders()),
          body: pc.localDescription.sdp,
        });
        if (response.status === 201) {
          const location = response.headers.get("Location");
          const answer = await response.text();
          if (run !== this.run) {
            fetch(location, { method: "DELETE", credentials: "same-origin", headers: csrfHeaders() }).catch(() => {});
            return;
          }
          this.location = location;
          await pc.setRemoteDescription({ type: "answer", sdp: answer });
          this.codec = answeredCodec(answer);
          this.tile.update();
          this.tile.message(stateOf(view.byId.get(cameraId)) === "online" ? "" : "Waiting for the camera…");
          return;
        }
        if (run !== this.run) return;
        if (response.status === 401) return toLogin();
        const why = await reason(response);
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
        const cam = view.byId.get(this.cameraId);
        if (stateOf(cam) !== "online") {
          // the server keeps this session through a camera restart: wait
          this.lastProgress = now;
          this.tile.message("No signal: camera " + stateOf(cam));
        } else if (now - this.lastProgress > STALL_MS) {
          this.retry("No picture, reconnecting…", 100);
        }
      }
    }
  }

  // --- tiles ------------------------------------------------------------------

  class Tile {
    constructor(index) {
      const node = $("tile-template").content.firstElementChild.cloneNode(true);
      this.index = index;
      this.el = node;
      this.video = node.querySelector("video");
      this.badgeEl = node.querySelector(".badge");
      this.nameEl = node.querySelector(".tile-name");
      this.metaEl = node.querySelector(".tile-meta");
      this.messageEl = node.querySelector(".tile-message");
      this.cameraId = undefined; // not yet shown: the first show(null) still draws the empty tile
      this.player = new Player(this);
      this.message("");
      node.dataset.index = String(index);
      node.querySelector(".snapshot").addEventListener("click", (e) => {
        e.stopPropagation();
        if (this.cameraId) {
          window.open("/api/cameras/" + encodeURIComponent(this.cameraId) + "/snapshot.jpg?t=" + Date.now(), "_blank", "noopener");
        }
      });
      node.querySelector(".fullscreen").addEventListener("click", (e) => {
        e.stopPropagation();
        this.toggleFullscreen();
      });
      node.querySelector(".zones-edit").addEventListener("click", (e) => {
        e.stopPropagation();
        if (this.cameraId && zones) zones.edit(view.byId.get(this.cameraId));
      });
      node.querySelector(".zones-overlay").addEventListener("click", (e) => {
        e.stopPropagation();
        if (zones) zones.toggleOverlay(this);
      });
      node.addEventListener("dblclick", () => this.toggleFullscreen());
      node.addEventListener("click", () => select(this.index));
    }

    toggleFullscreen() {
      if (document.fullscreenElement) {
        document.exitFullscreen().catch(() => {});
      } else if (this.cameraId) {
        this.el.requestFullscreen().catch(() => {});
      }
    }

    // Small tiles (9 and 16 per page) play the camera's sub stream where it has
    // one: a 16-camera wall of 1080p streams would swamp the operator's PC.
    // A tile shown alone, in a 1- or 4-tile layout or full screen, plays the main stream.
    wantedStream() {
      const cam = view.byId.get(this.cameraId);
      const big = view.layout <= 4 || document.fullscreenElement === this.el;
      return cam && cam.has_sub_stream && !big && !view.subFailed.has(cam.id) ? "sub" : "main";
    }

    refreshStream() {
      if (this.cameraId && this.player.stream !== this.wantedStream()) this.player.start(this.cameraId, this.wantedStream());
    }

    show(cameraId) {
      if (cameraId === this.cameraId) return this.refreshStream();
      this.cameraId = cameraId;
      this.el.dataset.camera = cameraId || "";
      this.meta("");
      if (zones) zones.tileChanged(this);
      if (!cameraId) {
        this.player.stop();
        this.el.classList.add("empty");
        this.nameEl.textContent = "";
        this.badge(null);
        this.message("No camera");
        return;
      }
      this.el.classList.remove("empty");
      this.update();
      this.player.start(cameraId, this.wantedStream());
    }

    update() {
      const cam = view.byId.get(this.cameraId);
      if (!cam) return;
      this.nameEl.textContent = cam.name || cam.id;
      const mode = cam.mode === "education" ? "education mode: warnings only" : "";
      this.nameEl.title = [cam.name, areaName(cam), agencyName(cam.agency), mode].filter(Boolean).join(" · ");
      this.el.dataset.mode = cam.mode || "";
      this.badge(cam);
    }

    badge(cam) {
      const state = cam ? stateOf(cam) : "none";
      this.badgeEl.dataset.state = state;
      this.badgeEl.textContent = cam ? state + transcodeLabel(cam, this.player.codec) : "";
      this.badgeEl.title = cam && cam.status && cam.status.reason ? cam.status.reason : "";
      this.el.dataset.state = state;
    }

    meta(text) {
      this.metaEl.textContent = text;
    }

    message(text) {
      this.messageEl.textContent = text || "";
      this.messageEl.hidden = !text;
    }
  }

  function select(index) {
    view.selected = index;
    tiles.forEach((t) => t.el.classList.toggle("selected", t.index === index));
    updatePtz();
  }

  // The PTZ panel follows the selected tile; it shows only where this user may steer.
  function updatePtz() {
    if (!ptz) return;
    const tile = tiles[view.selected];
    ptz.show(tile && tile.cameraId ? view.byId.get(tile.cameraId) : null);
  }

  function pages() {
    return Math.max(1, Math.ceil(filtered().length / view.layout));
  }

  function renderGrid() {
    const grid = $("grid");
    grid.dataset.layout = String(view.layout);
    while (tiles.length < view.layout) {
      const tile = new Tile(tiles.length);
      tiles.push(tile);
      grid.appendChild(tile.el);
    }
    while (tiles.length > view.layout) {
      const tile = tiles.pop();
      tile.player.stop();
      tile.el.remove();
    }
    view.page = Math.min(view.page, pages() - 1);
    const list = filtered();
    tiles.forEach((tile, i) => {
      const pinned = view.pinned.get(i);
      const cam = pinned ? view.byId.get(pinned) : list[view.page * view.layout + i];
      tile.show(cam ? cam.id : null);
    });
    if (view.selected >= tiles.length) view.selected = 0;
    select(view.selected);
    $("page-label").textContent = view.page + 1 + " / " + pages();
    $("page-prev").disabled = view.page === 0;
    $("page-next").disabled = view.page >= pages() - 1;
    document.querySelectorAll("[data-layout]").forEach((b) => {
      if (b.tagName === "BUTTON") b.classList.toggle("active", Number(b.dataset.layout) === view.layout);
    });
  }

  function renderList() {
    const ul = $("camera-list");
    const list = filtered();
    ul.replaceChildren(
      ...list.map((cam) => {
        const li = document.createElement("li");
        li.dataset.camera = cam.id;
        li.dataset.state = stateOf(cam);
        li.tabIndex = 0;
        const dot = document.createElement("span");
        dot.className = "dot";
        const name = document.createElement("span");
        name.className = "cam-name";
        name.textContent = cam.name || cam.id;
        const sub = document.createElement("span");
        sub.className = "cam-sub";
        sub.textContent = [areaName(cam), agencyName(cam.agency)].filter(Boolean).join(" · ");
        li.append(dot, name, sub);
        li.title = stateOf(cam);
        const open = () => place(cam.id);
        li.addEventListener("click", open);
        li.addEventListener("keydown", (e) => {
          if (e.key === "Enter") open();
        });
        return li;
      })
    );
    const online = view.cameras.filter((c) => stateOf(c) === "online").length;
    $("camera-count").textContent = list.length + " shown · " + online + "/" + view.cameras.length + " online";
  }

  // Put a camera from the list in the selected tile (or show it where it is).
  function place(cameraId) {
    const at = tiles.findIndex((t) => t.cameraId === cameraId);
    if (at >= 0) {
      select(at);
      tiles[at].el.focus();
      return;
    }
    view.pinned.set(view.selected, cameraId);
    renderGrid();
  }

  function fillSelect(el, values, label) {
    const current = el.value;
    el.replaceChildren(new Option(label, ""));
    values.forEach(([value, text]) => el.add(new Option(text, value)));
    el.value = values.some(([v]) => v === current) ? current : "";
  }

  function renderFilters() {
    const areas = new Map();
    const agencies = new Set();
    view.cameras.forEach((c) => {
      if (c.area) areas.set(c.area, areaName(c));
      if (c.agency) agencies.add(c.agency);
    });
    const area = $("filter-area");
    const agency = $("filter-agency");
    fillSelect(area, [...areas.entries()].sort((a, b) => a[1].localeCompare(b[1])), "All areas");
    fillSelect(agency, [...agencies].sort().map((a) => [a, agencyName(a)]), "All agencies");
    area.value = areas.has(view.area) ? view.area : "";
    agency.value = agencies.has(view.agency) ? view.agency : "";
    view.area = area.value;
    view.agency = agency.value;
  }

  function refreshStates() {
    tiles.forEach((t) => t.cameraId && t.update());
    document.querySelectorAll("#camera-list li").forEach((li) => {
      const state = stateOf(view.byId.get(li.dataset.camera));
      li.dataset.state = state;
      li.title = state;
    });
    updatePtz();
    const online = view.cameras.filter((c) => stateOf(c) === "online").length;
    const shown = document.querySelectorAll("#camera-list li").length;
    $("camera-count").textContent = shown + " shown · " + online + "/" + view.cameras.length + " online";
  }

  function changed() {
    view.page = 0;
    view.pinned.clear();
    save();
    renderList();
    renderGrid();
  }

  // --- wiring -------------------------------------------------------------------

  function wire() {
    $("filter-area").addEventListener("change", (e) => {
      view.area = e.target.value;
      changed();
    });
    $("filter-agency").addEventListener("change", (e) => {
      view.agency = e.target.value;
      changed();
    });
    $("filter-text").addEventListener("input", (e) => {
      view.text = e.target.value;
      renderList();
    });
    document.querySelectorAll("button[data-layout]").forEach((b) =>
      b.addEventListener("click", () => {
        view.layout = Number(b.dataset.layout);
        changed();
      })
    );
    $("page-prev").addEventListener("click", () => {
      view.page = Math.max(0, view.page - 1);
      view.pinned.clear();
      renderGrid();
    });
    $("page-next").addEventListener("click", () => {
      view.page = Math.min(pages() - 1, view.page + 1);
      view.pinned.clear();
      renderGrid();
    });
    $("logout").addEventListener("click", async () => {
      tiles.forEach((t) => t.player.stop());
      await fetch("/api/logout", { method: "POST", credentials: "same-origin", headers: csrfHeaders() }).catch(() => {});
      location.assign("/login");
    });
    // end the server's sessions when the page goes away
    window.addEventListener("pagehide", () => tiles.forEach((t) => t.player.teardown()));
    // full screen shows the main stream, back in the grid the sub stream again
    document.addEventListener("fullscreenchange", () => tiles.forEach((t) => t.refreshStream()));
  }

  function tickClock() {
    $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  async function poll() {
    try {
      const added = await loadCameras();
      banner("");
      if (added) {
        renderFilters();
        renderList();
        renderGrid();
      } else {
        refreshStates();
      }
    } catch (e) {
      if (e.message !== "not logged in") banner("Camera list unavailable: " + e.message);
    }
  }

  async function main() {
    wire();
    tickClock();
    setInterval(tickClock, 1000);
    let response;
    try {
      response = await api("/api/me");
    } catch (e) {
      return;
    }
    if (!response.ok) {
      banner("Cannot load your account: " + (await reason(response)));
      return;
    }
    view.me = await response.json();
    ptz = new window.BConnectPtz.PtzPanel($("ptz"), { me: view.me, api: api, csrfHeaders: csrfHeaders, reason: reason });
    zones = new window.BConnectZones.ZonesUi($("zones"), { me: view.me, api: api, csrfHeaders: csrfHeaders, reason: reason });
    $("user-name").textContent = view.me.username + " · " + agencyName(view.me.agency);
    try {
      await loadCameras();
    } catch (e) {
      banner("Camera list unavailable: " + e.message);
    }
    renderFilters();
    renderList();
    renderGrid();
    setInterval(poll, POLL_MS);
    setInterval(() => tiles.forEach((t) => t.player.check().catch(() => {})), WATCHDOG_MS);
  }

  main();
})();
