// B-Connect zones: the zone editor (draw a camera's analytics zones on its
// snapshot, per PTZ preset) and the zone overlay over a live tile.
// Plain JavaScript with standard APIs only (SVG, canvas, Pointer Events, fetch).
// The page (app.js) builds one ZonesUi and calls edit(camera), toggleOverlay(tile)
// and tileChanged(tile). The server validates everything (core/analytics/zones.py);
// the editor shows its reasons next to the fields they name.
(function () {
  "use strict";

  const EDIT_ROLES = ["operator"]; // and admin: as core/analytics/zones_api.py EDIT_ROLES
  const OVERLAY_POLL_MS = 3000;
  const TRACKS_POLL_MS = 500; // boxes move: read what analytics see twice a second
  const KINDS = [
    ["no_parking", "No parking", "#f85149"],
    ["no_stopping", "No stopping", "#ff7b72"],
    ["traffic_lane", "Traffic lane", "#58a6ff"],
    ["stop_line", "Stop line", "#d29922"],
    ["queue_area", "Queue area", "#a371f7"],
    ["watched_area", "Watched area", "#3fb950"],
    ["restricted_area", "Restricted area", "#db61a2"],
  ];
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const colour = (kind) => (KINDS.find((k) => k[0] === kind) || [0, 0, "#8696a8"])[2];
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    return node;
  }

  function zonesUrl(cameraId, tail) {
    return "/api/cameras/" + encodeURIComponent(cameraId) + "/zones" + (tail || "");
  }

  // "zones[2].points[1]" -> { index: 2, field: "points" }; "camera" -> { index: null, field: "camera" }
  function problemPlace(key) {
    const m = /^zones\[(\d+)\](?:\.(\w+))?/.exec(key || "");
    return m ? { index: Number(m[1]), field: m[2] || "zone" } : { index: null, field: key || "file" };
  }

  // --- the editor ------------------------------------------------------------------

  class ZoneEditor {
    // deps: { me, api(path, options), csrfHeaders(), reason(response) }
    constructor(root, deps) {
      this.el = root;
      this.deps = deps;
      this.camera = null;
      this.data = null; // the server's answer: revision, presets, zones ...
      this.zones = []; // the working copy, as the zone file has them
      this.preset = null;
      this.selected = -1;
      this.drawing = false;
      this.problems = new Map(); // zone index -> { field: reason }
      this.dragging = null;
      this.build();
    }

    build() {
      const kind = el("select", { name: "kind", class: "zones-kind" });
      KINDS.forEach(([value, label]) => kind.add(new Option(label, value)));
      const days = el("span", { class: "zones-days" });
      DAYS.forEach((d) =>
        days.append(el("label", {}, el("input", { type: "checkbox", name: "day", value: d }), d))
      );
      const field = (name, label, input, hint) =>
        el("label", { class: "zones-field", "data-field": name }, el("span", { text: label }), input,
          hint ? el("small", { text: hint }) : "", el("span", { class: "zones-field-error", "data-field": name, hidden: "" }));
      this.form = el(
        "form", { class: "zones-form", hidden: "" },
        field("name", "Name", el("input", { name: "name", maxlength: "200" })),
        field("id", "Id", el("input", { name: "id", maxlength: "64", pattern: "[a-z0-9][a-z0-9_\\-]*" }), "lower case, digits, - and _"),
        field("kind", "Kind", kind),
        field("windows", "Hours", el("input", { name: "windows", placeholder: "16:00-19:00, 22:00-05:00" }), "local time; empty: always"),
        field("days", "Days", days, "none ticked: every day"),
        field("direction", "Direction", el("span", { class: "zones-direction" },
          el("input", { name: "dx", type: "number", step: "0.1", "aria-label": "dx" }),
          el("input", { name: "dy", type: "number", step: "0.1", "aria-label": "dy" })), "the way traffic flows: dx right, dy down"),
        field("dwell_s", "Dwell (s)", el("input", { name: "dwell_s", type: "number", min: "1", step: "1" }), "empty: the rule's threshold"),
        el("div", { class: "zones-field", "data-field": "points" },
          el("span", { class: "zones-points-count" }),
          el("span", { class: "zones-draw-actions" },
            el("button", { type: "button", class: "ghost zones-finish", text: "Finish polygon" }),
            el("button", { type: "button", class: "ghost zones-undo", text: "Undo point" }),
            el("button", { type: "button", class: "ghost zones-redraw", text: "Redraw" })),
          el("span", { class: "zones-field-error", "data-field": "points", hidden: "" }),
          el("span", { class: "zones-field-error", "data-field": "zone", hidden: "" }),
          el("span", { class: "zones-field-error", "data-field": "preset", hidden: "" })),
        el("button", { type: "button", class: "ghost zones-delete", text: "Delete zone" })
      );
      this.presetSelect = el("select", { class: "zones-preset", "aria-label": "Preset" });
      this.img = el("img", { class: "zones-snapshot", alt: "" });
      this.svg = svg("svg", { class: "zones-svg" });
      this.stage = el("div", { class: "zones-stage" }, this.img, this.svg, el("p", { class: "zones-stage-note", hidden: "" }));
      this.ratio = 16 / 9; // the picture's, once the snapshot has loaded
      this.list = el("ul", { class: "zones-list" });
      const exportLink = el("a", { class: "ghost zones-export", text: "Export" });
      const importInput = el("input", { type: "file", accept: ".json,application/json", class: "zones-import-file", hidden: "" });
      this.el.replaceChildren(
        el("div", { class: "zones-dialog", role: "dialog", "aria-label": "Zone editor" },
          el("header", { class: "zones-head" },
            el("strong", { text: "Zones" }), el("span", { class: "zones-camera" }),
            el("label", { class: "zones-preset-field" }, "Preset ", this.presetSelect),
            el("button", { type: "button", class: "ghost zones-close", text: "Close" })),
          el("div", { class: "zones-body" },
            el("div", { class: "zones-stage-wrap" }, this.stage),
            el("aside", { class: "zones-side" },
              this.list,
              el("button", { type: "button", class: "ghost zones-new", text: "New zone" }),
              this.form,
              el("p", { class: "zones-error", role: "alert", hidden: "" }),
              el("p", { class: "zones-status" }),
              el("div", { class: "zones-actions" },
                el("button", { type: "button", class: "zones-save", text: "Save" }),
                el("button", { type: "button", class: "ghost zones-reload", text: "Reload" }),
                exportLink,
                el("button", { type: "button", class: "ghost zones-import", text: "Import…" }),
                importInput))))
      );
      const q = (s) => this.el.querySelector(s);
      this.q = q;
      q(".zones-close").addEventListener("click", () => this.close());
      q(".zones-new").addEventListener("click", () => this.newZone());
      q(".zones-save").addEventListener("click", () => this.save());
      q(".zones-reload").addEventListener("click", () => this.load());
      q(".zones-import").addEventListener("click", () => importInput.click());
      importInput.addEventListener("change", () => this.importFile(importInput));
      q(".zones-finish").addEventListener("click", () => this.finish());
      q(".zones-undo").addEventListener("click", () => {
        const zone = this.zones[this.selected];
        if (zone && zone.points.length) zone.points.pop();
        this.render();
      });
      q(".zones-redraw").addEventListener("click", () => {
        const zone = this.zones[this.selected];
        if (!zone) return;
        zone.points = [];
        this.drawing = true;
        this.render();
      });
      q(".zones-delete").addEventListener("click", () => {
        if (this.selected < 0) return;
        this.zones.splice(this.selected, 1);
        this.problems.clear();
        this.selected = -1;
        this.drawing = false;
        this.dirty("Zone deleted: save to keep it so.");
      });
      this.presetSelect.addEventListener("change", () => {
        this.preset = this.presetSelect.value;
        this.selected = -1;
        this.drawing = false;
        this.render();
      });
      this.form.addEventListener("input", () => this.readForm());
      this.form.addEventListener("change", () => this.readForm());
      this.form.addEventListener("submit", (e) => e.preventDefault());
      this.stage.addEventListener("click", (e) => this.stageClick(e));
      this.svg.addEventListener("pointermove", (e) => this.drag(e));
      this.svg.addEventListener("pointerup", () => {
        if (!this.dragging) return;
        this.dragging = null;
        this.dirty("");
      });
      this.img.addEventListener("load", () => {
        this.stage.classList.remove("blank");
        if (this.img.naturalWidth && this.img.naturalHeight) this.ratio = this.img.naturalWidth / this.img.naturalHeight;
        this.render();
      });
      this.img.addEventListener("error", () => {
        if (!this.img.getAttribute("src")) return;
        this.stage.classList.add("blank");
        this.note("No snapshot from the camera now: draw on the blank picture.");
      });
      window.addEventListener("resize", () => !this.el.hidden && this.render());
      document.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && !this.el.hidden) this.close();
      });
    }

    // --- opening and loading ---------------------------------------------------------

    async edit(cam) {
      this.camera = cam;
      this.el.hidden = false;
      this.el.dataset.camera = cam.id;
      this.q(".zones-camera").textContent = cam.name || cam.id;
      this.q(".zones-export").href = zonesUrl(cam.id, "/export");
      this.q(".zones-export").setAttribute("download", "zones-" + cam.id + ".json");
      this.note("");
      this.img.removeAttribute("src");
      this.img.src = "/api/cameras/" + encodeURIComponent(cam.id) + "/snapshot.jpg?t=" + Date.now();
      this.preset = null;
      await this.load();
    }

    close() {
      this.el.hidden = true;
      this.camera = null;
      this.el.dataset.camera = "";
    }

    async load() {
      if (!this.camera) return;
      this.error("");
      const response = await this.deps.api(zonesUrl(this.camera.id));
      if (!response.ok) {
        this.error("Cannot load the zones: " + (await this.deps.reason(response)));
        return;
      }
      this.accept(await response.json(), "");
    }

    // The server's answer after a load or a save: it replaces the working copy.
    accept(data, status) {
      this.data = data;
      this.zones = data.zones.map((z) => JSON.parse(JSON.stringify(z)));
      this.problems.clear();
      this.drawing = false;
      this.selected = -1;
      const select = this.presetSelect;
      select.replaceChildren(...data.presets.map((p) => new Option(p.name + " (" + p.id + ")", p.id)));
      this.q(".zones-preset-field").hidden = !data.ptz;
      if (data.ptz) {
        const ids = data.presets.map((p) => p.id);
        if (!ids.includes(this.preset)) this.preset = ids.includes(data.active_preset) ? data.active_preset : ids[0] || null;
        select.value = this.preset || "";
      } else {
        this.preset = null;
      }
      this.el.dataset.revision = String(data.revision);
      this.status(status || this.describeRevision());
      this.render();
    }

    describeRevision() {
      const d = this.data;
      if (!d || !d.revision) return "No zones saved yet.";
      const when = d.updated_at ? new Date(d.updated_at).toLocaleString() : "";
      return "Revision " + d.revision + ", saved by " + d.updated_by + (when ? " on " + when : "") + ".";
    }

    canEdit() {
      const me = this.deps.me;
      return Boolean(me && (me.role === "admin" || EDIT_ROLES.includes(me.role)));
    }

    // --- editing -----------------------------------------------------------------------

    visible() {
      return this.zones.map((z, i) => [z, i]).filter(([z]) => (z.preset === undefined ? null : z.preset) === (this.preset || null));
    }

    newZone() {
      const taken = new Set(this.zones.map((z) => z.id));
      let n = 1;
      while (taken.has("zone-" + n)) n++;
      const zone = { id: "zone-" + n, name: "Zone " + n, kind: "no_parking", points: [] };
      if (this.preset) zone.preset = this.preset;
      this.zones.push(zone);
      this.selected = this.zones.length - 1;
      this.drawing = true;
      this.error("");
      this.dirty("Click the picture to place the corners; click the first corner or “Finish polygon” to close it.");
    }

    finish() {
      this.drawing = false;
      this.render();
    }

    select(index) {
      this.selected = index;
      this.drawing = false;
      this.render();
    }

    point(e) {
      const box = this.svg.getBoundingClientRect();
      const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
      return [round((e.clientX - box.left) / box.width), round((e.clientY - box.top) / box.height)];
    }

    stageClick(e) {
      const zone = this.zones[this.selected];
      if (!this.drawing || !zone) return;
      const target = e.target;
      if (target && target.dataset && target.dataset.vertex === "0" && zone.points.length >= 3) {
        this.finish();
        return;
      }
      zone.points.push(this.point(e));
      this.dirty("");
    }

    drag(e) {
      if (!this.dragging) return;
      const zone = this.zones[this.selected];
      if (!zone) return;
      zone.points[this.dragging.index] = this.point(e);
      this.renderStage();
    }

    readForm() {
      const zone = this.zones[this.selected];
      if (!zone) return;
      const f = (name) => this.form.elements.namedItem(name);
      zone.name = f("name").value;
      zone.id = f("id").value;
      zone.kind = f("kind").value;
      const windows = f("windows").value.split(",").map((w) => w.trim()).filter(Boolean);
      if (windows.length) zone.windows = windows;
      else delete zone.windows;
      const days = [...this.form.querySelectorAll("input[name=day]:checked")].map((c) => c.value);
      if (days.length) zone.days = days;
      else delete zone.days;
      if (zone.kind === "traffic_lane") {
        const num = (v) => (v === "" ? 0 : Number(v));
        zone.direction = [num(f("dx").value), num(f("dy").value)];
      } else {
        delete zone.direction;
      }
      const dwell = f("dwell_s").value.trim();
      if (dwell) zone.dwell_s = Number(dwell);
      else delete zone.dwell_s;
      this.dirty("");
    }

    dirty(message) {
      this.el.dataset.dirty = "1";
      if (message) this.status(message);
      this.render();
    }

    // --- saving ------------------------------------------------------------------------

    body() {
      return JSON.stringify({ format: "bconnect.zones", version: 1, camera: this.camera.id, zones: this.zones }, null, 2);
    }

    async save() {
      await this.send("PUT", zonesUrl(this.camera.id), this.body(), "Saved");
    }

    async importFile(input) {
      const file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      await this.send("POST", zonesUrl(this.camera.id, "/import"), await file.text(), "Imported " + file.name);
    }

    async send(method, url, text, done) {
      this.error("");
      const headers = Object.assign({ "Content-Type": "application/json", "If-Match": '"' + this.data.revision + '"' }, this.deps.csrfHeaders());
      const response = await this.deps.api(url, { method: method, headers: headers, body: text });
      if (response.ok) {
        this.el.dataset.dirty = "";
        this.accept(await response.json(), "");
        this.status(done + ": revision " + this.data.revision + ".");
        return;
      }
      let body = null;
      try {
        body = await response.clone().json();
      } catch (e) {
        /* not JSON */
      }
      if (response.status === 422 && body && body.problems) {
        this.showProblems(body.problems);
        this.error("Not saved: " + body.error);
      } else if (response.status === 409) {
        this.error("Not saved: " + (await this.deps.reason(response)) + " (Reload shows theirs; your edits are lost then)");
      } else {
        this.error("Not saved: " + (await this.deps.reason(response)));
      }
    }

    showProblems(problems) {
      this.problems.clear();
      const general = [];
      problems.forEach((p) => {
        const where = problemPlace(p.key);
        if (where.index === null) {
          general.push((p.key ? p.key + ": " : "") + p.reason);
          return;
        }
        // a zone-wide reason about the lane's direction belongs next to the direction
        if (where.field === "zone" && /direction/.test(p.reason)) where.field = "direction";
        const fields = this.problems.get(where.index) || {};
        fields[where.field] = (fields[where.field] ? fields[where.field] + "; " : "") + p.reason;
        this.problems.set(where.index, fields);
      });
      // show the first zone with a problem, on its preset
      const first = [...this.problems.keys()].sort((a, b) => a - b)[0];
      if (first !== undefined && this.zones[first]) {
        const preset = this.zones[first].preset || null;
        if (preset !== (this.preset || null) && [...this.presetSelect.options].some((o) => o.value === preset)) {
          this.preset = preset;
          this.presetSelect.value = preset;
        }
        this.selected = first;
        this.drawing = false;
      }
      if (general.length) this.status(general.join(" · "));
      this.render();
    }

    // --- drawing -----------------------------------------------------------------------

    render() {
      this.renderList();
      this.renderForm();
      this.renderStage();
      const editable = this.canEdit();
      ["zones-new", "zones-save", "zones-import"].forEach((c) => (this.q("." + c).hidden = !editable));
    }

    renderList() {
      const items = this.visible().map(([zone, index]) => {
        const li = el("li", { "data-zone": zone.id, "data-index": String(index) },
          el("span", { class: "zones-swatch" }), el("span", { class: "zones-list-name", text: zone.name || zone.id }),
          el("span", { class: "zones-list-kind", text: (KINDS.find((k) => k[0] === zone.kind) || [0, zone.kind])[1] }));
        li.querySelector(".zones-swatch").style.background = colour(zone.kind);
        li.classList.toggle("selected", index === this.selected);
        li.classList.toggle("invalid", this.problems.has(index));
        li.addEventListener("click", () => this.select(index));
        return li;
      });
      if (!items.length) items.push(el("li", { class: "zones-empty", text: this.preset ? "No zones on this preset." : "No zones." }));
      this.list.replaceChildren(...items);
    }

    renderForm() {
      const zone = this.zones[this.selected];
      this.form.hidden = !zone;
      if (!zone) return;
      const f = (name) => this.form.elements.namedItem(name);
      const set = (input, value) => {
        if (document.activeElement !== input) input.value = value;
      };
      set(f("name"), zone.name || "");
      set(f("id"), zone.id || "");
      f("kind").value = zone.kind;
      set(f("windows"), (zone.windows || []).join(", "));
      this.form.querySelectorAll("input[name=day]").forEach((c) => (c.checked = (zone.days || []).includes(c.value)));
      const lane = zone.kind === "traffic_lane";
      this.form.querySelector('[data-field="direction"]').hidden = !lane;
      if (lane) {
        set(f("dx"), zone.direction ? zone.direction[0] : "");
        set(f("dy"), zone.direction ? zone.direction[1] : "");
      }
      set(f("dwell_s"), zone.dwell_s === undefined ? "" : zone.dwell_s);
      const n = zone.points.length;
      this.q(".zones-points-count").textContent = n + " corner" + (n === 1 ? "" : "s") + (this.drawing ? " · drawing" : "");
      this.q(".zones-finish").hidden = !this.drawing;
      this.q(".zones-undo").hidden = !this.drawing;
      this.q(".zones-redraw").hidden = this.drawing;
      const problems = this.problems.get(this.selected) || {};
      this.form.querySelectorAll(".zones-field-error").forEach((span) => {
        const field = span.dataset.field;
        const text = problems[field];
        span.textContent = text || "";
        span.hidden = !text;
      });
      this.form.querySelectorAll("input, select, button").forEach((i) => (i.disabled = !this.canEdit()));
    }

    // The stage keeps the picture's shape, as large as the room beside the list allows.
    fitStage() {
      const room = this.stage.parentElement;
      const style = getComputedStyle(room);
      const aw = room.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const ah = room.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
      if (!aw || !ah) return;
      let w = aw;
      let h = aw / this.ratio;
      if (h > ah) {
        h = ah;
        w = ah * this.ratio;
      }
      this.stage.style.width = Math.floor(w) + "px";
      this.stage.style.height = Math.floor(h) + "px";
    }

    renderStage() {
      this.fitStage();
      const w = this.stage.clientWidth;
      const h = this.stage.clientHeight;
      if (!w || !h) return;
      this.svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      const nodes = [];
      this.visible().forEach(([zone, index]) => {
        const selected = index === this.selected;
        const pts = zone.points.map(([x, y]) => x * w + "," + y * h).join(" ");
        const shape = svg(selected && this.drawing ? "polyline" : "polygon", {
          points: pts, class: "zones-shape" + (selected ? " selected" : "") + (this.problems.has(index) ? " invalid" : ""),
          "data-zone": zone.id, stroke: colour(zone.kind), fill: colour(zone.kind),
        });
        shape.addEventListener("click", (e) => {
          if (this.drawing) return;
          e.stopPropagation();
          this.select(index);
        });
        nodes.push(shape);
        if (zone.points.length) {
          const [x0, y0] = zone.points[0];
          const label = svg("text", { x: x0 * w + 6, y: y0 * h - 6, class: "zones-label" });
          label.textContent = zone.name || zone.id;
          nodes.push(label);
        }
        if (selected) {
          zone.points.forEach(([x, y], i) => {
            const dot = svg("circle", { cx: x * w, cy: y * h, r: 6, class: "zones-vertex", "data-vertex": String(i) });
            dot.addEventListener("pointerdown", (e) => {
              if (this.drawing || !this.canEdit()) return;
              e.stopPropagation();
              this.dragging = { index: i };
              this.svg.setPointerCapture(e.pointerId);
            });
            nodes.push(dot);
          });
        }
      });
      this.svg.replaceChildren(...nodes);
      this.stage.classList.toggle("drawing", this.drawing);
    }

    note(text) {
      const p = this.q(".zones-stage-note");
      p.textContent = text;
      p.hidden = !text;
    }

    status(text) {
      this.q(".zones-status").textContent = text || "";
    }

    error(text) {
      const p = this.q(".zones-error");
      p.textContent = text || "";
      p.hidden = !text;
    }
  }

  // --- the overlay on a live tile ----------------------------------------------------

  // Draws the zones of the view the camera shows now (its active preset) on a canvas
  // over the tile's video, in the picture's own rectangle (the video is letterboxed).
  // Over the zones: the boxes, track ids and labels of what analytics see now
  // (GET /api/cameras/{id}/tracks, the last analysed frame) and the detector's latency.
  class Overlay {
    constructor(tile, deps) {
      this.tile = tile;
      this.deps = deps;
      this.canvas = tile.el.querySelector(".zone-overlay");
      this.data = null;
      this.tracks = null;
      this.timer = null;
      this.tracksTimer = null;
      this.cameraId = null;
      this.resize = new ResizeObserver(() => this.draw());
      this.resize.observe(tile.el);
      tile.video.addEventListener("loadedmetadata", () => this.draw());
    }

    get on() {
      return this.timer !== null;
    }

    toggle() {
      if (this.on) this.stop();
      else this.start();
    }

    start() {
      this.cameraId = this.tile.cameraId;
      this.tile.el.classList.add("zones-on");
      this.canvas.hidden = false;
      this.timer = setInterval(() => this.refresh(), OVERLAY_POLL_MS);
      this.tracksTimer = setInterval(() => this.refreshTracks(), TRACKS_POLL_MS);
      this.refresh();
      this.refreshTracks();
    }

    stop() {
      clearInterval(this.timer);
      clearInterval(this.tracksTimer);
      this.timer = null;
      this.tracksTimer = null;
      this.data = null;
      this.tracks = null;
      this.canvas.dataset.tracks = "";
      this.tile.el.classList.remove("zones-on");
      this.canvas.hidden = true;
      this.canvas.dataset.zones = "";
    }

    cameraChanged() {
      if (this.on && this.tile.cameraId !== this.cameraId) this.stop();
    }

    async refresh() {
      const cameraId = this.cameraId;
      try {
        const response = await this.deps.api(zonesUrl(cameraId));
        if (!response.ok || cameraId !== this.cameraId || !this.on) return;
        this.data = await response.json();
      } catch (e) {
        return;
      }
      this.draw();
    }

    async refreshTracks() {
      const cameraId = this.cameraId;
      try {
        const response = await this.deps.api("/api/cameras/" + encodeURIComponent(cameraId) + "/tracks");
        if (!response.ok || cameraId !== this.cameraId || !this.on) return;
        this.tracks = await response.json();
      } catch (e) {
        return;
      }
      this.draw();
    }

    // The rectangle the picture fills inside the tile (object-fit: contain).
    pictureRect(w, h) {
      const vw = this.tile.video.videoWidth;
      const vh = this.tile.video.videoHeight;
      if (!vw || !vh) return { x: 0, y: 0, w: w, h: h };
      const scale = Math.min(w / vw, h / vh);
      return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale };
    }

    draw() {
      if (!this.on) return;
      const c = this.canvas;
      const ratio = window.devicePixelRatio || 1;
      const w = this.tile.el.clientWidth;
      const h = this.tile.el.clientHeight;
      c.width = Math.round(w * ratio);
      c.height = Math.round(h * ratio);
      const ctx = c.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, w, h);
      const data = this.data;
      if (!data) return;
      const r = this.pictureRect(w, h);
      this.drawZones(ctx, data, r);
      this.drawTracks(ctx, r);
    }

    drawZones(ctx, data, r) {
      const c = this.canvas;
      const preset = data.ptz ? data.active_preset : null;
      // a PTZ camera off its presets shows nothing: no zone belongs to where it points
      const zones = data.ptz && !preset ? [] : data.zones.filter((z) => (z.preset || null) === preset);
      c.dataset.preset = preset || "";
      c.dataset.zones = String(zones.length);
      ctx.lineWidth = 2;
      ctx.font = "12px system-ui, sans-serif";
      zones.forEach((zone) => {
        const col = colour(zone.kind);
        ctx.beginPath();
        zone.points.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, r.x + x * r.w, r.y + y * r.h));
        ctx.closePath();
        ctx.globalAlpha = 0.25;
        ctx.fillStyle = col;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.strokeStyle = col;
        ctx.stroke();
        const [x0, y0] = zone.points[0];
        ctx.fillStyle = "#fff";
        ctx.fillText(zone.name, r.x + x0 * r.w + 4, r.y + y0 * r.h - 4);
      });
    }

    drawTracks(ctx, r) {
      const c = this.canvas;
      const seen = this.tracks;
      const tracks = seen && seen.tracks ? seen.tracks.filter((t) => t.state === "tracked") : [];
      c.dataset.tracks = String(tracks.length);
      c.dataset.detectMs = seen && seen.detect_ms != null ? String(seen.detect_ms) : "";
      ctx.lineWidth = 2;
      ctx.font = "12px system-ui, sans-serif";
      tracks.forEach((t) => {
        const [x1, y1, x2, y2] = t.box;
        const col = t.label === "person" ? "#5ad1ff" : "#ffd25a";
        ctx.strokeStyle = col;
        ctx.strokeRect(r.x + x1 * r.w, r.y + y1 * r.h, (x2 - x1) * r.w, (y2 - y1) * r.h);
        const text = "#" + t.id + " " + t.label + (t.stationary_s >= 5 ? " " + Math.round(t.stationary_s) + " s" : "");
        ctx.fillStyle = col;
        ctx.fillText(text, r.x + x1 * r.w + 2, r.y + y1 * r.h - 3);
      });
      if (seen && seen.detect_ms != null) {
        ctx.fillStyle = "#fff";
        ctx.fillText("detector " + seen.detect_ms + " ms, " + tracks.length + " tracked", r.x + 6, r.y + r.h - 6);
      } else if (seen && seen.reason) {
        ctx.fillStyle = "#fff";
        ctx.fillText(seen.reason, r.x + 6, r.y + r.h - 6);
      }
    }
  }

  // --- what app.js builds ------------------------------------------------------------

  class ZonesUi {
    constructor(root, deps) {
      this.deps = deps;
      this.editor = new ZoneEditor(root, deps);
      this.overlays = new Map(); // tile -> Overlay
      document.body.classList.toggle("zones-editor", this.editor.canEdit());
    }

    edit(cam) {
      if (cam) this.editor.edit(cam);
    }

    overlay(tile) {
      if (!this.overlays.has(tile)) this.overlays.set(tile, new Overlay(tile, this.deps));
      return this.overlays.get(tile);
    }

    toggleOverlay(tile) {
      if (tile.cameraId) this.overlay(tile).toggle();
    }

    tileChanged(tile) {
      const overlay = this.overlays.get(tile);
      if (overlay) overlay.cameraChanged();
    }
  }

  window.BConnectZones = { ZonesUi: ZonesUi, ZoneEditor: ZoneEditor, Overlay: Overlay };
})();
