// B-Connect live view: a camera grid, one WHEP (RFC 9725) viewer per tile (whep.js).
// Plain JavaScript with standard APIs only, for current Chromium and Firefox.
(function () {
  "use strict";

  const POLL_MS = 3000;
  const WATCHDOG_MS = 2000;
  const LAYOUTS = [1, 4, 9, 16];
  const STORE = "bconnect.view";

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

  // What each tile's WHEP player (whep.js) asks of the page.
  const whepHost = {
    csrfHeaders: csrfHeaders,
    reason: reason,
    toLogin: toLogin,
    cameraState: (cameraId) => stateOf(view.byId.get(cameraId)),
    subStreamFailed: (cameraId) => view.subFailed.add(cameraId),
  };

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

  function areaName(cam) {
    return cam.area_name || (cam.area ? cam.area.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase()) : "");
  }

  function agencyName(code) {
    // names come from the deployment's [agencies], through /api/me
    const names = (view.me && view.me.agency_names) || {};
    return names[code] || code || "";
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
      this.player = new window.BConnectWhep.Player(this, whepHost);
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

  // the enforcement pages, for the roles that may use them (docs/enforcement.md)
  // and the plugins' pages /api/me lists for this user (bconnect_register_pages)
  function addPageLinks(role, pages) {
    const links = [
      ["review-link", "/review", "Review", ["officer", "admin"]],
      ["dashboard-link", "/dashboard", "Dashboard", ["officer", "prosecutor", "supervisor", "admin"]],
      ...(pages || []).map((p) => ["page-" + p.plugin, p.path, p.title, [role]]),
    ];
    for (const [id, href, text, roles] of links.reverse()) {
      if (!roles.includes(role)) continue;
      const a = document.createElement("a");
      a.id = id;
      a.href = href;
      a.className = "ghost nav-link";
      a.textContent = text;
      document.querySelector(".topbar .user").prepend(a);
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
    addPageLinks(view.me.role, view.me.pages);
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
