// B-Connect enforcement dashboard: charts (Chart.js, vendored in vendor/) over GET /api/violations/summary and,
// for supervisors and admins, the supervisors' report GET /api/violations/stats. Plain JavaScript, no build step.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const COLOURS = ["#2f81f7", "#2ea043", "#d29922", "#da3633", "#a371f7", "#3fb9a3", "#db61a2", "#8696a8"];
  const charts = {};
  const state = { me: null, summary: null, stats: null };
  window.bconnectDashboard = { charts: charts, state: state };

  if (window.Chart) {
    Chart.defaults.color = "#8696a8";
    Chart.defaults.borderColor = "#243247";
    Chart.defaults.animation = false; // figures, not a show: and a screenshot sees the final state
    Chart.defaults.maintainAspectRatio = false;
  }

  function banner(text) {
    $("banner").textContent = text || "";
    $("banner").hidden = !text;
  }

  async function get(path) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (response.status === 401) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname));
      throw new Error("not logged in");
    }
    if (!response.ok) {
      let why = response.status + " " + response.statusText;
      try {
        why = (await response.json()).error || why;
      } catch (e) {
        /* not JSON */
      }
      throw new Error(why);
    }
    return response.json();
  }

  function label(text) {
    return String(text || "").replace(/_/g, " ");
  }

  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }

  // one chart per canvas, replaced on every load; its numbers stay readable in charts[name].data
  function draw(name, canvasId, config) {
    if (charts[name]) charts[name].destroy();
    charts[name] = new Chart($(canvasId), config);
    $(canvasId).dataset.total = String(
      config.data.datasets[0] ? config.data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0) : 0
    );
  }

  function bar(labels, datasets, options) {
    return {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ plugins: { legend: { display: datasets.length > 1 } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }, options || {}),
    };
  }

  function render() {
    const s = state.summary;
    $("fig-backlog").textContent = s.backlog.awaiting_review;
    $("fig-oldest").textContent = duration(s.backlog.oldest_waiting_s);
    $("fig-median").textContent = duration(s.time_to_review_s.median);
    $("fig-p90").textContent = duration(s.time_to_review_s.p90);
    $("fig-total").textContent = s.total;
    $("dash").dataset.backlog = s.backlog.awaiting_review;
    $("dash").dataset.reviewMedian = s.time_to_review_s.median === null ? "" : s.time_to_review_s.median;
    $("dash").dataset.reviewP90 = s.time_to_review_s.p90 === null ? "" : s.time_to_review_s.p90;

    const states = Object.keys(s.per_state);
    draw("states", "chart-states", bar(states.map(label), [{ label: "violations", data: states.map((k) => s.per_state[k]), backgroundColor: COLOURS[0] }], { indexAxis: "y" }));

    const areas = Object.keys(s.per_area_day);
    draw("areaDay", "chart-area-day", bar(
      s.days.map((d) => d.slice(5)),
      areas.map((a, i) => ({ label: label(a), data: s.days.map((d) => s.per_area_day[a][d] || 0), backgroundColor: COLOURS[i % COLOURS.length], stack: "areas" })),
      { plugins: { legend: { display: true } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    ));

    const kinds = Object.keys(s.per_kind);
    draw("kind", "chart-kind", {
      type: "doughnut",
      data: { labels: kinds, datasets: [{ label: "violations", data: kinds.map((k) => s.per_kind[k]), backgroundColor: COLOURS }] },
      options: { plugins: { legend: { position: "right" } } },
    });

    const steps = (s.ladder || []).concat(Object.keys(s.ladder_actions).filter((k) => !(s.ladder || []).includes(k)));
    draw("ladder", "chart-ladder", bar(steps.map(label), [{ label: "actions", data: steps.map((k) => s.ladder_actions[k] || 0), backgroundColor: COLOURS[2] }]));

    const stats = state.stats;
    document.querySelectorAll(".supervisors").forEach((n) => (n.hidden = !stats));
    $("supervisors-note").hidden = !!stats;
    if (!stats) return;
    const reasons = (s.rejection_reasons || []).slice();
    stats.reasons.forEach((r) => reasons.includes(r.reason) || reasons.push(r.reason));
    const byReason = Object.fromEntries(stats.reasons.map((r) => [r.reason, r.rejected]));
    draw("reasons", "chart-reasons", bar(reasons.map(label), [{ label: "rejected", data: reasons.map((r) => byReason[r] || 0), backgroundColor: COLOURS[3] }]));
    const officers = stats.officers;
    draw("officers", "chart-officers", {
      type: "bar",
      data: {
        labels: officers.map((o) => o.user),
        datasets: [
          { label: "decided", data: officers.map((o) => o.decided), backgroundColor: COLOURS[0], yAxisID: "y" },
          { label: "rejected", data: officers.map((o) => o.rejected), backgroundColor: COLOURS[3], yAxisID: "y" },
          { label: "rejection rate %", type: "line", data: officers.map((o) => Math.round(o.rejection_rate * 1000) / 10), borderColor: COLOURS[2], backgroundColor: COLOURS[2], yAxisID: "rate" },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, rate: { position: "right", min: 0, max: 100, grid: { display: false } } } },
    });
    const flagged = stats.plates.filter((p) => p.flagged);
    $("flagged").textContent = flagged.length
      ? "Flagged plates (rejected " + stats.flag_rejections + " times or more): " + flagged.map((p) => p.plate + " (" + p.rejected + "/" + p.decided + ")").join(", ")
      : "No plate is flagged for repeated rejections.";
  }

  async function load() {
    const days = Number($("days").value);
    try {
      const since = new Date(Date.now() - days * 86400000).toISOString();
      const [summary, stats] = await Promise.all([
        get("/api/violations/summary?days=" + days),
        ["supervisor", "admin"].includes(state.me.role) ? get("/api/violations/stats?since=" + encodeURIComponent(since)) : Promise.resolve(null),
      ]);
      state.summary = summary;
      state.stats = stats;
      banner("");
      render();
      document.body.dataset.ready = "yes";
    } catch (e) {
      if (e.message !== "not logged in") banner("Cannot load the figures: " + e.message);
    }
  }

  async function main() {
    if (!window.Chart) {
      banner("The charting library did not load (static/vendor/chart.umd.js).");
      return;
    }
    state.me = await get("/api/me");
    $("user-name").textContent = state.me.username + " · " + state.me.role;
    $("review-link").hidden = !["officer", "admin"].includes(state.me.role);
    $("logout").addEventListener("click", async () => {
      const headers = state.me.csrf_token ? { "X-CSRF-Token": state.me.csrf_token } : {};
      await fetch("/api/logout", { method: "POST", credentials: "same-origin", headers: headers }).catch(() => {});
      location.assign("/login");
    });
    $("days").addEventListener("change", load);
    await load();
  }

  main().catch((e) => banner(e.message));
})();
