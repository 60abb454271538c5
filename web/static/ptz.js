// B-Connect PTZ panel: pan/tilt arrows, zoom, presets, patrol tour and the
// manual-control lock of the selected camera. Plain JavaScript with standard
// APIs only (Pointer Events, fetch), for current Chromium and Firefox.
// The page (app.js) builds one panel and calls show(camera) on selection.
(function () {
  "use strict";

  const POLL_MS = 2000;
  const SPEED = 0.5; // continuous move speed, ONVIF's -1..1
  const STEER_ROLES = ["operator", "officer"]; // and admin: as core/ptz_api.py CONTROL_ROLES

  // May this user steer this camera? The API decides anyway; this only spares
  // the panel to users who would be refused.
  function canSteer(me, cam) {
    if (!me || !cam) return false;
    const caps = cam.capabilities || [];
    if (!caps.includes("ptz") && !caps.includes("presets")) return false;
    if (me.role === "admin") return true;
    return STEER_ROLES.includes(me.role) && me.agency === cam.agency;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  class PtzPanel {
    // deps: { me, api(path, options), csrfHeaders(), reason(response) }
    constructor(root, deps) {
      this.el = root;
      this.deps = deps;
      this.cameraId = null;
      this.cameraName = "";
      this.state = null;
      this.lockUntil = 0; // performance.now() when the shown lock expires
      this.moving = false;
      this.queue = Promise.resolve(); // commands go out one after the other, in order
      this.pollTimer = null;
      this.tickTimer = null;
      this.run = 0; // bumps when the camera changes: late answers for another camera are dropped
      this.q = (selector) => root.querySelector(selector);
      this.wire();
    }

    // --- showing --------------------------------------------------------------

    show(cam) {
      if (!canSteer(this.deps.me, cam)) {
        this.hide();
        return;
      }
      this.cameraName = cam.name || cam.id;
      this.q(".ptz-camera").textContent = this.cameraName;
      if (cam.id === this.cameraId) return;
      this.leave();
      this.cameraId = cam.id;
      this.el.dataset.camera = cam.id;
      this.state = null;
      this.run++;
      this.error("");
      this.render();
      this.el.hidden = false;
      this.refresh();
      this.pollTimer = setInterval(() => this.refresh(), POLL_MS);
      this.tickTimer = setInterval(() => this.renderLock(), 1000);
    }

    hide() {
      this.leave();
      this.cameraId = null;
      this.el.hidden = true;
      delete this.el.dataset.camera;
    }

    leave() {
      if (this.moving) this.stopMove(); // never leave a camera turning
      clearInterval(this.pollTimer);
      clearInterval(this.tickTimer);
      this.pollTimer = this.tickTimer = null;
    }

    // --- talking to the API ---------------------------------------------------

    url(cameraId, path) {
      return "/api/cameras/" + encodeURIComponent(cameraId) + "/ptz" + (path || "");
    }

    async refresh() {
      const run = this.run;
      const cameraId = this.cameraId;
      if (!cameraId) return;
      try {
        const response = await this.deps.api(this.url(cameraId));
        if (run !== this.run) return;
        if (!response.ok) {
          this.error("PTZ unavailable: " + (await this.deps.reason(response)));
          return;
        }
        this.apply(await response.json());
      } catch (e) {
        if (run === this.run && e.message !== "not logged in") this.error("Cannot reach the server");
      }
    }

    // Queue one command; its answer (the camera's PTZ state) updates the panel.
    send(path, method, body) {
      const run = this.run;
      const cameraId = this.cameraId;
      if (!cameraId) return Promise.resolve(false);
      const task = async () => {
        const options = { method: method, headers: Object.assign({}, this.deps.csrfHeaders()) };
        if (body !== undefined) {
          options.headers["Content-Type"] = "application/json";
          options.body = JSON.stringify(body);
        }
        try {
          const response = await this.deps.api(this.url(cameraId, path), options);
          if (!response.ok) {
            const why = await this.deps.reason(response);
            if (run === this.run) this.error(response.status === 403 ? "Not allowed: " + why : why);
            return false;
          }
          const state = await response.json();
          if (run === this.run) {
            this.error("");
            this.apply(state);
          }
          return true;
        } catch (e) {
          if (run === this.run && e.message !== "not logged in") this.error("Cannot reach the server");
          return false;
        }
      };
      this.queue = this.queue.then(task, task);
      return this.queue;
    }

    startMove(pan, tilt, zoom) {
      this.moving = true;
      this.send("/move", "POST", { pan: pan * SPEED, tilt: tilt * SPEED, zoom: zoom * SPEED });
    }

    stopMove() {
      if (!this.moving) return;
      this.moving = false;
      this.send("/stop", "POST");
    }

    // --- wiring -----------------------------------------------------------------

    wire() {
      // press and hold: move while pressed, stop on release (mouse, touch, pen or keyboard)
      this.el.querySelectorAll("[data-hold]").forEach((button) => {
        const [pan, tilt, zoom] = button.dataset.hold.split(",").map(Number);
        const end = () => {
          button.classList.remove("pressed");
          this.stopMove();
        };
        button.addEventListener("pointerdown", (e) => {
          if (e.button !== 0) return;
          e.preventDefault();
          button.setPointerCapture(e.pointerId);
          button.classList.add("pressed");
          this.startMove(pan, tilt, zoom);
        });
        button.addEventListener("pointerup", end);
        button.addEventListener("pointercancel", end);
        button.addEventListener("lostpointercapture", end);
        button.addEventListener("keydown", (e) => {
          if ((e.key === "Enter" || e.key === " ") && !e.repeat) {
            e.preventDefault();
            button.classList.add("pressed");
            this.startMove(pan, tilt, zoom);
          }
        });
        button.addEventListener("keyup", (e) => {
          if (e.key === "Enter" || e.key === " ") end();
        });
        button.addEventListener("blur", end);
        button.addEventListener("contextmenu", (e) => e.preventDefault());
      });
      this.q(".ptz-stop").addEventListener("click", () => {
        this.moving = false;
        this.send("/stop", "POST");
      });
      this.q(".ptz-presets").addEventListener("click", (e) => {
        const button = e.target.closest("button[data-preset]");
        if (button) this.send("/preset", "POST", { preset: button.dataset.preset });
      });
      this.q(".ptz-tour-toggle").addEventListener("change", (e) => {
        const wanted = e.target.checked;
        e.target.checked = !wanted; // the camera's answer decides what shows
        this.send("/tour", "POST", { enabled: wanted });
      });
      this.q(".ptz-take").addEventListener("click", () => this.send("/control", "POST"));
      this.q(".ptz-release").addEventListener("click", () => this.send("/control", "DELETE"));
      window.addEventListener("blur", () => this.stopMove());
      window.addEventListener("pagehide", () => this.stopMove());
    }

    // --- drawing -------------------------------------------------------------------

    apply(state) {
      this.state = state;
      const lock = state.manual_control;
      this.lockUntil = lock ? performance.now() + lock.expires_in_s * 1000 : 0;
      this.render();
    }

    error(text) {
      const el = this.q(".ptz-error");
      el.textContent = text || "";
      el.hidden = !text;
    }

    render() {
      const state = this.state;
      const active = state && state.active_preset;
      this.q(".ptz-active-name").textContent = active ? active.name : state ? "none (moved by hand)" : "…";
      this.el.dataset.activePreset = active ? active.id : "";

      const list = this.q(".ptz-presets");
      const presets = (state && state.presets) || [];
      list.replaceChildren(
        ...presets.map((p) => {
          const li = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.preset = p.id;
          button.textContent = p.name || p.id;
          button.title = "Go to preset " + p.id;
          const on = Boolean(active && active.id === p.id);
          button.classList.toggle("active", on);
          button.setAttribute("aria-pressed", String(on));
          li.appendChild(button);
          return li;
        })
      );
      this.q(".ptz-no-presets").hidden = !state || presets.length > 0;

      const tour = state && state.tour;
      this.q(".ptz-tour").hidden = !tour;
      if (tour) {
        this.q(".ptz-tour-toggle").checked = tour.enabled;
        let text = "Off";
        if (tour.state === "paused") text = "Paused: manual control by " + tour.paused_by;
        else if (tour.state === "running") {
          text = "Running";
          if (tour.current_stop !== null) text += " · stop " + (tour.current_stop + 1) + " of " + tour.stops.length;
          if (tour.next_move_in_s !== null) text += " · next in " + Math.round(tour.next_move_in_s) + " s";
        }
        this.q(".ptz-tour-state").textContent = text;
        this.q(".ptz-tour").dataset.state = tour.state;
      }

      const failed = state && state.last_error;
      const last = this.q(".ptz-last-error");
      last.hidden = !failed;
      last.textContent = failed ? "Camera refused " + failed.op + ": " + failed.reason : "";
      this.renderLock();
    }

    renderLock() {
      const state = this.state;
      const lock = state && state.manual_control;
      const me = this.deps.me;
      const left = (this.lockUntil - performance.now()) / 1000;
      const held = Boolean(lock) && left > 0;
      const mine = held && lock.owner === me.username;
      const box = this.q(".ptz-lock");
      box.dataset.held = held ? (mine ? "me" : "other") : "free";
      this.q(".ptz-lock-text").textContent = !held
        ? "Free: the first command takes control"
        : (mine ? "You" : lock.owner) + " · " + clock(left) + " left";
      const take = this.q(".ptz-take");
      take.textContent = mine ? "Keep control" : "Take control";
      take.disabled = held && !mine; // one operator at a time; an admin may release it first
      take.title = take.disabled ? "Under manual control by " + lock.owner : "";
      this.q(".ptz-release").hidden = !held || (!mine && me.role !== "admin");
    }
  }

  window.BConnectPtz = { PtzPanel: PtzPanel, canSteer: canSteer };
})();
