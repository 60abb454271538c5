// B-Connect alerts panel: live events from the server-sent event stream
// (/api/events/stream), a highlight and a beep for each new one, an
// acknowledge button, and the list of past events with filters.
// Plain JavaScript with standard APIs only (EventSource, fetch, WebAudio).
// It builds its own panel and button; the page (app.js) does not call it.
(function () {
  "use strict";

  const ACK_ROLES = ["operator", "officer", "admin"]; // as core/events/api.py ACK_ROLES (admin always)
  const PAGE = 50;
  const KEEP = 200; // list items kept in the page; older ones: the list's filters
  const PRIORITY_NAMES = { low: "Low", normal: "Normal", high: "High", critical: "Critical" };

  const state = { me: null, items: new Map(), source: null, audio: null, beeps: 0, filters: {} };
  window.bconnectAlerts = { state: state, beeps: () => state.beeps };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function csrf() {
    return state.me && state.me.csrf_token ? { "X-CSRF-Token": state.me.csrf_token } : {};
  }

  async function reason(response) {
    try {
      const body = await response.clone().json();
      if (body && body.error) return body.error;
    } catch (e) {
      /* not JSON */
    }
    return response.status + " " + response.statusText;
  }

  // --- sound -------------------------------------------------------------------

  function unlockAudio() {
    // browsers start audio only after a user gesture: make the context on the first one
    if (!state.audio && window.AudioContext) state.audio = new AudioContext();
    if (state.audio && state.audio.state === "suspended") state.audio.resume().catch(() => {});
  }

  function beep(priority) {
    state.beeps++;
    if (!state.audio && window.AudioContext) state.audio = new AudioContext();
    const ctx = state.audio;
    if (!ctx) return;
    const urgent = priority === "high" || priority === "critical";
    const tones = urgent ? [0, 0.25, 0.5] : [0];
    tones.forEach((at) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = urgent ? 1040 : 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.15, ctx.currentTime + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.2);
    });
  }

  // --- the panel -----------------------------------------------------------------

  function build() {
    const button = el("button", "ghost alerts-toggle");
    button.type = "button";
    button.id = "alerts-toggle";
    button.setAttribute("aria-controls", "alerts");
    button.append(el("span", "", "Alerts"), el("span", "alerts-count", "0"));
    const user = document.querySelector(".topbar .user");
    (user || document.body).prepend(button);

    const panel = el("aside", "alerts");
    panel.id = "alerts";
    panel.setAttribute("aria-label", "Alerts");
    panel.hidden = true;
    panel.innerHTML = `
      <div class="alerts-head"><span class="alerts-title">Alerts</span>
        <span class="alerts-live" data-state="connecting">connecting</span>
        <button type="button" class="ghost alerts-close" aria-label="Close alerts">&times;</button></div>
      <form class="alerts-filters">
        <input name="camera" placeholder="Camera id" aria-label="Camera">
        <input name="kind" placeholder="Kind (parking.violation)" aria-label="Kind">
        <label><input type="checkbox" name="open"> Unacknowledged only</label>
      </form>
      <p class="alerts-error" role="alert" hidden></p>
      <ol class="alerts-list"></ol>`;
    document.body.append(panel);
    const toast = el("div", "alerts-toast");
    toast.id = "alerts-toast";
    toast.setAttribute("role", "status");
    toast.hidden = true;
    document.body.append(toast);

    button.addEventListener("click", () => {
      panel.hidden = !panel.hidden;
      button.classList.toggle("active", !panel.hidden);
    });
    panel.querySelector(".alerts-close").addEventListener("click", () => button.click());
    toast.addEventListener("click", () => {
      toast.hidden = true;
      if (panel.hidden) button.click();
    });
    const form = panel.querySelector(".alerts-filters");
    let timer = null;
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.filters = {
          camera: form.camera.value.trim(),
          kind: form.kind.value.trim(),
          open: form.open.checked,
        };
        load();
      }, 250);
    });
    form.addEventListener("submit", (e) => e.preventDefault());
    document.addEventListener("pointerdown", unlockAudio, { once: true });
    document.addEventListener("keydown", unlockAudio, { once: true });
  }

  const $ = (sel) => document.querySelector(sel);

  function error(text) {
    const p = $(".alerts-error");
    p.textContent = text || "";
    p.hidden = !text;
  }

  function matches(ev) {
    const f = state.filters;
    if (f.camera && ev.camera !== f.camera) return false;
    if (f.kind && ev.kind !== f.kind) return false;
    if (f.open && ev.ack) return false;
    return true;
  }

  function when(iso) {
    const d = new Date(iso);
    return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function render(ev, fresh) {
    let li = state.items.get(ev.id);
    const isNew = !li;
    if (isNew) {
      li = el("li", "alert-item");
      li.dataset.event = ev.id;
      state.items.set(ev.id, li);
    }
    li.dataset.priority = ev.priority;
    li.dataset.acked = ev.ack ? "yes" : "no";
    if (fresh) li.classList.add("fresh");
    if (ev.ack) li.classList.remove("fresh");
    li.replaceChildren();
    const head = el("div", "alert-head");
    head.append(
      el("span", "alert-kind", ev.kind),
      el("span", "alert-priority", PRIORITY_NAMES[ev.priority] || ev.priority),
      el("span", "alert-mode", ev.mode)
    );
    const meta = el("div", "alert-meta", [ev.camera, ev.zone ? "zone " + ev.zone : "", when(ev.wall_time)].filter(Boolean).join(" · "));
    li.append(head, meta);
    if (ev.snapshot && ev.snapshot.url) {
      const img = el("img", "alert-snapshot");
      img.loading = "lazy";
      img.alt = "Snapshot of " + ev.kind;
      img.src = ev.snapshot.url;
      li.append(img);
    }
    const offer = ptzOffer(ev);
    if (offer) li.append(offer);
    const foot = el("div", "alert-foot");
    if (ev.ack) {
      foot.append(el("span", "alert-acked", "Acknowledged by " + ev.ack.by + " · " + when(ev.ack.at)));
    } else if (state.me && ACK_ROLES.includes(state.me.role)) {
      const b = el("button", "alert-ack", "Acknowledge");
      b.type = "button";
      b.addEventListener("click", () => acknowledge(ev.id, b));
      foot.append(b);
    } else {
      foot.append(el("span", "alert-open", "Not acknowledged"));
    }
    li.append(foot);
    li.hidden = !matches(ev);
    return { li, isNew };
  }

  // An event may offer to turn PTZ cameras to the presets that cover its spot (detail.ptz_offer, accepted
  // by POST {camera} to detail.ptz_accept): a button per camera, disabled while an operator held it.
  function ptzOffer(ev) {
    const d = ev.detail || {};
    if (!Array.isArray(d.ptz_offer) || !d.ptz_offer.length || typeof d.ptz_accept !== "string" || !d.ptz_accept.startsWith("/api/")) return null;
    const box = el("div", "alert-ptz");
    box.append(el("span", "alert-ptz-title", "Turn PTZ:"));
    const steer = state.me && ACK_ROLES.includes(state.me.role);
    d.ptz_offer.forEach((o) => {
      const b = el("button", "alert-ptz-go", o.camera + " → " + (o.preset_name || o.preset));
      b.type = "button";
      b.dataset.camera = o.camera;
      if (o.held_by) b.title = "held by " + o.held_by + " when the alert came";
      b.disabled = !steer;
      b.addEventListener("click", () => acceptOffer(d.ptz_accept, o.camera, b));
      box.append(b);
    });
    const out = el("span", "alert-ptz-result");
    out.setAttribute("role", "status");
    box.append(out);
    return box;
  }

  async function acceptOffer(url, camera, button) {
    button.disabled = true;
    const out = button.parentElement.querySelector(".alert-ptz-result");
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign({ "Content-Type": "application/json" }, csrf()),
      body: JSON.stringify({ camera: camera }),
    });
    if (response.ok) {
      const body = await response.json();
      out.textContent = camera + " on preset " + body.active_preset;
      out.dataset.state = "moved";
    } else {
      out.textContent = "Not moved: " + (await reason(response));
      out.dataset.state = "refused";
    }
    button.disabled = false;
  }

  function place(li, atTop) {
    const list = $(".alerts-list");
    if (atTop) list.prepend(li);
    else list.append(li);
    while (list.children.length > KEEP) {
      const last = list.lastElementChild;
      state.items.delete(last.dataset.event);
      last.remove();
    }
  }

  function count() {
    const open = [...state.items.values()].filter((li) => li.dataset.acked === "no").length;
    const badge = $(".alerts-count");
    badge.textContent = String(open);
    $("#alerts-toggle").classList.toggle("alarm", [...state.items.values()].some((li) => li.classList.contains("fresh")));
  }

  function toast(ev) {
    const t = $("#alerts-toast");
    t.dataset.priority = ev.priority;
    t.textContent = "New alert: " + ev.kind + " on " + ev.camera + " (" + (PRIORITY_NAMES[ev.priority] || ev.priority) + ")";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 8000);
  }

  // --- server --------------------------------------------------------------------

  async function load() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (state.filters.camera) q.set("camera", state.filters.camera);
    if (state.filters.kind) q.set("kind", state.filters.kind);
    if (state.filters.open) q.set("acknowledged", "false");
    const response = await fetch("/api/events?" + q, { credentials: "same-origin" });
    if (!response.ok) {
      error("Alerts unavailable: " + (await reason(response)));
      return;
    }
    error("");
    const body = await response.json();
    $(".alerts-list").replaceChildren();
    state.items.clear();
    body.events.forEach((ev) => place(render(ev, false).li, false));
    count();
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    const response = await fetch("/api/events/" + encodeURIComponent(id) + "/ack", {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign({ "Content-Type": "application/json" }, csrf()),
      body: "{}",
    });
    if (response.ok) {
      render(await response.json(), false);
      error("");
    } else {
      button.disabled = false;
      error("Not acknowledged: " + (await reason(response)));
      if (response.status === 409) load();
    }
    count();
  }

  function connect() {
    const live = $(".alerts-live");
    const source = new EventSource("/api/events/stream");
    state.source = source;
    source.addEventListener("open", () => {
      live.dataset.state = "live";
      live.textContent = "live";
    });
    source.addEventListener("error", () => {
      live.dataset.state = "connecting";
      live.textContent = "reconnecting";
    });
    source.addEventListener("event", (m) => {
      const ev = JSON.parse(m.data);
      const { li, isNew } = render(ev, true);
      if (!isNew) return; // a replay after a reconnect: already shown
      place(li, true);
      count();
      toast(ev);
      beep(ev.priority);
    });
    source.addEventListener("ack", (m) => {
      const ev = JSON.parse(m.data);
      if (state.items.has(ev.id)) render(ev, false);
      count();
    });
    // "dropped": the server closed the stream because the page fell behind; EventSource reconnects
    source.addEventListener("logout", () => {
      source.close(); // the session ended: app.js takes the page to the log-in form
      live.dataset.state = "closed";
      live.textContent = "logged out";
    });
  }

  async function main() {
    const response = await fetch("/api/me", { credentials: "same-origin" });
    if (!response.ok) return; // app.js sends the visitor to the log-in page
    state.me = await response.json();
    build();
    await load();
    connect();
    window.addEventListener("pagehide", () => state.source && state.source.close());
  }

  main();
})();
