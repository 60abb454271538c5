// B-Connect violation review: the officers' queue, one violation with its evidence, verify or reject by keyboard.
// Plain JavaScript over the HTTP API of docs/enforcement.md; the server decides, the page shows its reasons.
(function () {
  "use strict";

  const PAGE = 50;
  const LATER_STATES = "detected,verified,rejected,warned,action_taken,handed_to_sink,closed";
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    reasons: [],
    items: [], // the queue: violations as listed
    cursors: [], // [{state, cursor}] still to page through, in order
    index: -1,
    current: null, // the selected violation with its history
    armed: null, // "verify" while waiting for Enter
    timings: [], // ms from a violation shown to its decision answered (for tests and a practised officer's pace)
    shownAt: 0,
  };
  window.bconnectReview = { state: state };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function banner(text, kind) {
    const b = $("banner");
    b.textContent = text || "";
    b.dataset.kind = kind || "error";
    b.hidden = !text;
    if (text && kind === "info") {
      setTimeout(() => b.textContent === text && banner(""), 3000); // a confirmation, not a problem: it goes
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    if (opts.json !== undefined) {
      opts.method = opts.method || "POST";
      opts.headers = Object.assign({ "Content-Type": "application/json" }, csrf());
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const response = await fetch(path, opts);
    if (response.status === 401) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname));
      throw new Error("not logged in");
    }
    return response;
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

  function when(iso) {
    return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }) : "";
  }

  function label(text) {
    return String(text || "").replace(/_/g, " ");
  }

  // --- the queue -------------------------------------------------------------------

  function filters() {
    const form = new FormData($("filters"));
    const q = new URLSearchParams({ order: "oldest", limit: String(PAGE) });
    for (const key of ["area", "camera", "kind", "plate"]) {
      const v = String(form.get(key) || "").trim();
      if (v) q.set(key, v);
    }
    const since = form.get("since");
    const until = form.get("until");
    if (since) q.set("since", new Date(since + "T00:00:00").toISOString());
    if (until) q.set("until", new Date(new Date(until + "T00:00:00").getTime() + 86400000).toISOString());
    return { query: q, state: String(form.get("state") || "") };
  }

  // awaiting review first, oldest first; with "any state", the rest follow
  async function loadQueue(keepId) {
    const f = filters();
    state.items = [];
    state.cursors = f.state ? [{ state: f.state, cursor: null }]
      : [{ state: "awaiting_review", cursor: null }, { state: LATER_STATES, cursor: null }];
    state.query = f.query;
    await more(true);
    const at = keepId ? state.items.findIndex((v) => v.id === keepId) : -1;
    await select(at >= 0 ? at : state.items.length ? 0 : -1);
  }

  async function more(fill) {
    while (state.cursors.length) {
      const seg = state.cursors[0];
      const q = new URLSearchParams(state.query);
      q.set("state", seg.state);
      if (seg.cursor) q.set("cursor", seg.cursor);
      const response = await api("/api/violations?" + q);
      if (!response.ok) {
        banner("Cannot load the queue: " + (await reason(response)));
        state.cursors = [];
        break;
      }
      const body = await response.json();
      state.items.push(...body.violations);
      if (body.next_cursor) seg.cursor = body.next_cursor;
      else state.cursors.shift();
      if (!fill || state.items.length >= PAGE || body.next_cursor) break;
    }
    renderQueue();
  }

  function renderQueue() {
    const list = $("queue");
    list.replaceChildren();
    state.items.forEach((v, i) => {
      const li = el("li", "queue-item" + (i === state.index ? " selected" : ""));
      li.dataset.id = v.id;
      li.dataset.state = v.state;
      li.tabIndex = -1;
      li.append(el("span", "q-plate", v.plate.text || "no plate"), el("span", "q-state state-" + v.state, label(v.state)));
      li.append(el("span", "q-meta", "#" + v.id + " · " + v.camera + " · " + when(v.wall_time)));
      li.addEventListener("click", () => select(i));
      list.append(li);
    });
    const waiting = state.items.filter((v) => v.state === "awaiting_review").length;
    $("queue-count").textContent = state.items.length + " shown · " + waiting + " awaiting";
    $("queue-more").hidden = !state.cursors.length;
  }

  async function select(i) {
    state.armed = null;
    banner("");
    state.index = i;
    renderQueue();
    if (i < 0 || i >= state.items.length) {
      state.current = null;
      render();
      return;
    }
    const li = $("queue").children[i];
    if (li) li.scrollIntoView({ block: "nearest" });
    await loadOne(state.items[i].id);
  }

  async function loadOne(id) {
    const response = await api("/api/violations/" + id);
    if (!response.ok) {
      banner("Cannot load violation " + id + ": " + (await reason(response)));
      return;
    }
    state.current = await response.json();
    const i = state.items.findIndex((v) => v.id === id);
    if (i >= 0) state.items[i] = state.current;
    state.shownAt = performance.now();
    renderQueue();
    render();
  }

  // --- one violation ---------------------------------------------------------------

  function row(dl, term, value) {
    const dd = el("dd", "", value === null || value === undefined || value === "" ? "—" : value);
    dl.append(el("dt", "", term), dd);
    return dd;
  }

  function render() {
    const main = $("detail");
    main.replaceChildren();
    const v = state.current;
    main.dataset.id = v ? v.id : "";
    main.dataset.state = v ? v.state : "";
    main.dataset.version = v ? v.version : "";
    if (!v) {
      main.append(el("p", "detail-empty", "Nothing to review with these filters."));
      return;
    }
    const head = el("div", "detail-head");
    head.append(el("h2", "", "#" + v.id + " " + v.kind), el("span", "q-state state-" + v.state, label(v.state)));
    head.append(el("span", "muted", v.camera + " · " + (v.area || "no area") + (v.zone ? " · zone " + v.zone : "") +
      " · " + when(v.wall_time) + " · " + v.mode));
    main.append(head);

    const evidence = el("section", "evidence");
    if (v.evidence.snapshot) {
      const fig = el("figure", "snapshot");
      const img = el("img");
      img.src = v.evidence.snapshot.url;
      img.alt = "Snapshot of violation " + v.id;
      fig.append(img, el("figcaption", "muted", "SHA-256 " + (v.evidence.snapshot.sha256 || "").slice(0, 16) + "…"));
      evidence.append(fig);
    } else {
      evidence.append(el("p", "muted no-evidence", "No snapshot."));
    }
    if (v.evidence.clip) {
      const video = el("video", "clip");
      video.controls = true;
      video.muted = true;
      video.preload = "metadata";
      video.src = v.evidence.clip.url;
      evidence.append(video);
    } else {
      evidence.append(el("p", "muted no-evidence", "No clip."));
    }
    main.append(evidence);

    const facts = el("section", "facts");
    facts.append(plateBox(v));
    const dl = el("dl", "legal");
    const legal = v.legal || {};
    row(dl, "Legal basis", v.legal ? legal.law + ", Pasal " + legal.pasal + (legal.ayat ? " ayat (" + legal.ayat + ")" : "") : null);
    row(dl, "Max fine", v.legal && legal.max_fine != null ? (legal.currency || "Rp") + " " + Number(legal.max_fine).toLocaleString("id-ID") : null);
    row(dl, "Max jail", legal.max_jail);
    row(dl, "Offence", legal.text);
    const step = row(dl, "Ladder step", v.ladder_step ? label(v.ladder_step) + " (" + v.offence_count + " earlier)" : v.mode === "education" ? "education mode: warning only" : "chosen on verify");
    row(dl, "Vehicle", v.vehicle_class);
    if (v.rejection) row(dl, "Rejected", label(v.rejection.reason) + ": " + v.rejection.note + " (" + v.officer_name + ")");
    if (v.decided_by && !v.rejection) row(dl, "Decided by", v.officer_name || v.decided_by);
    step.className = "ladder-step";
    facts.append(dl);
    main.append(facts);

    main.append(actions(v));
    main.append(historyBox(v));
  }

  function plateBox(v) {
    const box = el("div", "plate-box");
    const p = v.plate;
    const read = el("div", "plate-read");
    read.append(el("span", "plate-text", p.text || "no plate"));
    if (p.confidence !== null && p.confidence !== undefined) {
      const c = el("span", "plate-confidence", Math.round(p.confidence * 100) + "%");
      c.dataset.low = p.confidence < 0.8 ? "yes" : "no";
      read.append(c);
    }
    read.append(el("span", "muted", p.source === "manual" ? "entered by " + (p.confirmed_by || "an officer") : p.source ? "read by OCR" : ""));
    box.append(read);
    if (p.blocker) box.append(el("p", "plate-blocker", p.blocker));
    if (p.problem) box.append(el("p", "muted", p.problem));
    const form = el("form", "plate-edit");
    const input = el("input", "search");
    input.id = "plate-input";
    input.name = "plate";
    input.value = p.text || "";
    input.placeholder = "KT 1234 AB";
    input.setAttribute("aria-label", "Plate");
    input.disabled = !["detected", "awaiting_review"].includes(v.state);
    const save = el("button", "ghost", "Save plate (e, Enter)");
    save.type = "submit";
    save.disabled = input.disabled;
    form.append(input, save);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      savePlate();
    });
    box.append(form);
    return box;
  }

  function actions(v) {
    const box = el("section", "decide");
    const open = v.allowed.includes("verified");
    const verify = el("button", "decide-verify", "Verify (v)");
    verify.type = "button";
    verify.id = "verify";
    verify.disabled = !open;
    verify.addEventListener("click", () => arm());
    const confirm = el("p", "confirm-line");
    confirm.id = "confirm-line";
    confirm.hidden = true;
    const form = el("form", "reject-form");
    form.id = "reject-form";
    const select = el("select");
    select.id = "reject-reason";
    select.setAttribute("aria-label", "Rejection reason");
    select.append(new Option("Reason…", ""));
    state.reasons.forEach((r, i) => select.append(new Option(i + 1 + ". " + label(r), r)));
    const note = el("textarea");
    note.id = "reject-note";
    note.rows = 2;
    note.placeholder = "What you saw (required)";
    note.setAttribute("aria-label", "Rejection note");
    const go = el("button", "decide-reject", "Reject (r)");
    go.type = "submit";
    go.id = "reject";
    [select, note, go].forEach((n) => (n.disabled = !v.allowed.includes("rejected")));
    form.append(select, note, go);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      reject();
    });
    select.addEventListener("keydown", (e) => {
      const n = Number(e.key);
      if (n >= 1 && n <= state.reasons.length) {
        e.preventDefault();
        select.value = state.reasons[n - 1];
      } else if (e.key === "Enter") {
        e.preventDefault();
        note.focus();
      }
    });
    note.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        reject();
      }
    });
    const msg = el("p", "decide-message");
    msg.id = "decide-message";
    msg.setAttribute("role", "status");
    box.append(verify, confirm, form, msg);
    return box;
  }

  function historyBox(v) {
    const box = el("section", "history");
    box.append(el("h3", "", "This plate's earlier violations"));
    const past = el("ul", "plate-history");
    for (const h of v.plate_history || []) {
      const li = el("li", "", "#" + h.id + " " + when(h.wall_time) + " · " + h.camera + " · " + label(h.state) +
        (h.ladder_step ? " · " + label(h.ladder_step) : "") + (h.rejection ? " · rejected: " + label(h.rejection) : ""));
      li.dataset.state = h.state;
      past.append(li);
    }
    if (!past.children.length) past.append(el("li", "muted", "None."));
    box.append(past);
    box.append(el("h3", "", "History"));
    const log = el("ol", "transitions");
    const entries = [];
    for (const t of v.transitions || []) {
      entries.push([t.at, (t.from ? label(t.from) + " → " : "") + label(t.to) + " by " + t.by + (t.reason ? ": " + t.reason : "")]);
    }
    for (const e of v.plate_edits || []) {
      entries.push([e.at, "plate " + (e.old || "none") + " → " + e.new + " by " + e.by + (e.note ? ": " + e.note : ""), "edit"]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [at, text, cls] of entries) log.append(el("li", cls || "", when(at) + " · " + text));
    box.append(log);
    return box;
  }

  // --- deciding --------------------------------------------------------------------

  function message(text, kind) {
    const m = $("decide-message");
    if (!m) return banner(text, kind);
    m.textContent = text;
    m.dataset.kind = kind || "info";
  }

  function arm() {
    const v = state.current;
    if (!v || !v.allowed.includes("verified")) return;
    if (v.plate.blocker) {
      message("Cannot verify yet: " + v.plate.blocker + ". Press e to enter the plate.", "error");
      return;
    }
    state.armed = "verify";
    const line = $("confirm-line");
    line.hidden = false;
    line.textContent = "Verify #" + v.id + " (" + (v.plate.text || "") + ")? Enter to confirm, Esc to cancel.";
  }

  async function decide(path, body) {
    const v = state.current;
    const response = await api("/api/violations/" + v.id + "/" + path, { json: Object.assign({ version: v.version }, body) });
    if (response.ok) {
      state.timings.push(performance.now() - state.shownAt);
      return response.json();
    }
    const why = await reason(response);
    if (response.status === 409) {
      await loadOne(v.id); // someone else acted, or it changed: show it as it is now
    }
    message(why, "error");
    banner(why);
    return null;
  }

  async function verify() {
    state.armed = null;
    const done = await decide("verify", { officer_name: state.me.username });
    if (done) await advance(done, "Verified #" + done.id + (done.ladder_step ? ": " + label(done.ladder_step) : ""));
  }

  async function reject() {
    const v = state.current;
    if (!v) return;
    const reasonValue = $("reject-reason").value;
    const note = $("reject-note").value.trim();
    if (!reasonValue) {
      message("Pick a reason (1-" + state.reasons.length + ").", "error");
      $("reject-reason").focus();
      return;
    }
    if (!note) {
      message("Write what you saw.", "error");
      $("reject-note").focus();
      return;
    }
    const done = await decide("reject", { reason: reasonValue, note: note, officer_name: state.me.username });
    if (done) await advance(done, "Rejected #" + done.id + ": " + label(reasonValue));
  }

  // show the answer in the queue, then the next one that waits
  async function advance(done, text) {
    const i = state.items.findIndex((x) => x.id === done.id);
    if (i >= 0) state.items[i] = done;
    let next = state.items.findIndex((x, j) => j > i && x.state === "awaiting_review");
    if (next < 0) next = state.items.findIndex((x) => x.state === "awaiting_review");
    document.activeElement && document.activeElement.blur();
    await select(next >= 0 ? next : i);
    banner(text, "info");
  }

  async function savePlate() {
    const v = state.current;
    const input = $("plate-input");
    const text = input.value.trim();
    if (!text) return;
    const response = await api("/api/violations/" + v.id + "/plate", {
      method: "PATCH", json: { plate: text, note: "entered in review", version: v.version },
    });
    if (!response.ok) {
      const why = await reason(response);
      if (response.status === 409) await loadOne(v.id);
      message(why, "error");
      banner(why);
      return;
    }
    const answer = await response.json();
    input.blur();
    await loadOne(v.id); // with the edit in its history
    message("Plate saved: " + answer.plate.text + (answer.validation ? " (" + answer.validation + ")" : ""), "info");
  }

  // --- the keyboard ----------------------------------------------------------------

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      state.armed = null;
      const line = $("confirm-line");
      if (line) line.hidden = true;
      if (state.current && $("plate-input")) $("plate-input").value = state.current.plate.text || "";
      if (document.activeElement) document.activeElement.blur();
      return;
    }
    if (typing(e.target)) return; // their own keys (reason digits, Enter) are wired on the fields
    if (e.key === "Enter" && state.armed === "verify") {
      e.preventDefault();
      verify();
      return;
    }
    if (!state.current && !["j", "k"].includes(e.key)) return;
    const open = state.current && state.current.allowed.includes("verified");
    switch (e.key) {
      case "j":
        if (state.index + 1 < state.items.length) select(state.index + 1);
        break;
      case "k":
        if (state.index > 0) select(state.index - 1);
        break;
      case "v":
        arm();
        break;
      case "r":
        if (open) {
          e.preventDefault();
          $("reject-reason").focus();
        }
        break;
      case "e":
        if (!$("plate-input").disabled) {
          e.preventDefault();
          $("plate-input").focus();
          $("plate-input").select();
        }
        break;
      default:
        return;
    }
  }

  // --- start -----------------------------------------------------------------------

  async function fillFilters() {
    const [cams, summary] = await Promise.all([api("/api/cameras"), api("/api/violations/summary?days=1")]);
    const form = $("filters");
    if (cams.ok) {
      const body = await cams.json();
      const list = Array.isArray(body) ? body : body.cameras || [];
      const areas = [...new Set(list.map((c) => c.area).filter(Boolean))].sort();
      areas.forEach((a) => form.area.append(new Option(label(a), a)));
      list.forEach((c) => form.camera.append(new Option(c.name ? c.name + " (" + c.id + ")" : c.id, c.id)));
    }
    if (summary.ok) {
      const body = await summary.json();
      state.reasons = body.rejection_reasons || [];
      (body.kinds || []).forEach((k) => form.kind.append(new Option(k, k)));
    } else {
      banner("Cannot load the review settings: " + (await reason(summary)));
    }
  }

  async function main() {
    const response = await api("/api/me");
    if (!response.ok) {
      banner("Cannot load your account: " + (await reason(response)));
      return;
    }
    state.me = await response.json();
    $("user-name").textContent = state.me.username + " · " + state.me.role;
    $("logout").addEventListener("click", async () => {
      await fetch("/api/logout", { method: "POST", credentials: "same-origin", headers: csrf() }).catch(() => {});
      location.assign("/login");
    });
    await fillFilters();
    const form = $("filters");
    form.addEventListener("change", () => loadQueue());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      loadQueue();
    });
    form.plate.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        loadQueue();
      }
    });
    $("queue-more").addEventListener("click", () => more(false));
    document.addEventListener("keydown", onKey);
    await loadQueue();
    document.body.dataset.ready = "yes";
  }

  main();
})();
