"""Analytics load: how many cameras this machine analyses at 5 fps, and what it costs live viewers.

    .venv/bin/python bench/analytics_load.py --cameras 16 --analyse 0,1,2,4,8,16 --viewers 2

``--cameras`` cameras come from the load generator (``bench/loadgen.py``, its
own process) at ``--size`` (default 640x360, a sub stream's size: the frame hub
decodes a camera's sub stream when it has one). For each count K of
``--analyse`` a fresh server (``bench/analytics_server.py``: ``bconnect serve``
plus a stand-in detector) analyses cameras 0..K-1 at ``--fps`` with motion
gating, while ``--viewers`` WHEP viewers (``bench/viewers.py``) watch cameras
0, 1, ... (analysed ones: the worst case). K = 0 is live view without
analytics, the reference, in the same run.

The stand-in detector costs a fixed ``--cost-ms`` of CPU (17 ms: SSD-MobileNet
v2 on one core, measured for issue 9) on every frame the hub marks worth
detecting, in one worker thread with the GIL released; it is not a real
detector. ``--detector vision_onnx`` runs the real one instead (the
``vision_onnx`` plugin with the default model, tiles as the frame size gives:
none at 640x360 on its 300x300 input; the stand-in's own cost is then 0), its
frames batched across cameras, in the server (``isolation = "thread"``) unless
``BENCH_ISOLATION=process``: ``--variant-env BENCH_ISOLATION=process`` measures the
detector process too.
The clip pans a texture, so every frame has motion: gating saves nothing here,
the worst case. ``--footage FILE`` plays a video instead (Debian's
``vtest.avi``: people crossing a plaza, a van and a car parked), and
``--rules parking_rule,crime_watch`` runs those shipped rules on the analysed
cameras as well, with zones over that plaza: the real detector finds real
people, so the rules track, judge and publish as in a deployment
(``--variant-env BENCH_RULES_LOOP=server`` puts their ``process`` back on the
server's loop, for the A/B).

Per K it measures, over ``--seconds`` after ``--settle``: the hub's frames per
second per analysed camera (lowest), the frames the analyzer processed per
second per camera (lowest), the frames the detector ran on per second per
camera (lowest and median; the real detector only), frames dropped per second,
server CPU and resident memory (and with its children: a frame or detector
worker process), the viewers' frame rate (lowest) and the server's added delay to them
(p50 / p99 of the sessions' own measurements). A count "keeps up" when every
analysed camera's processed rate is at least 90% of ``--fps``. Against the
issue's target, the JSON says the viewers' delay (p50, p99) and frame rate with
the most cameras analysed as ratios to those without, and whether each is within
10%. ``--repeats N`` alternates the servers N times (the machine is shared: its
load changes between windows): rows are medians, and each pair's own ratio
gives the spread. ``--variant-env NAME=A,B`` measures the most analysed
count once per value of the server's environment variable ``NAME`` in each
repeat, back to back with the reference (an A/B of a setting under the same
machine load: ``BENCH_SWITCH_INTERVAL_MS=0,1``, or ``BENCH_DECODE=process`` for
``[analytics] decode``); the JSON's ``variants``
holds each value's ratios. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from common import BENCH_DIR, BconnectServer, Loadgen, ViewerGroup, descendants, final, tree_cpu_seconds
from loadgen import ensure_clip

ANALYZER = "stand_in_detector"
KEEP_UP = 0.9
UNCHANGED = 0.10  # the issue's target: live viewers' delay and frame rate within 10% of live view without analytics


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loop_schedstat(pid: int) -> tuple[int, int, int]:
    """The server's main thread (its event loop): ns on a CPU, ns waiting for one, times scheduled."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        run, wait, slices = (int(x) for x in f.read().split()[:3])
    return run, wait, slices


def tree_rss_mb(pid: int) -> float:
    """The server's and its children's (the frame worker's) resident memory; shared-memory slots count in both."""
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            total += rss_mb(p)
        except OSError:
            pass
    return total


def rss_slope(times: list[float], rss: list[float]) -> float | None:
    """Resident memory's growth over the window's second half, MB a minute (a least-squares line): 0 is flat."""
    half = len(times) // 2
    t, r = times[half:], rss[half:]
    if len(t) < 3 or t[-1] - t[0] < 1.0:
        return None
    return round(statistics.linear_regression(t, r).slope * 60, 3)


def ratio(with_: float | None, without: float | None) -> float | None:
    return round(with_ / without, 3) if with_ is not None and without else None


def live_view_change(reference: dict, most: dict) -> dict:
    """The viewers' delay and frame rate with the most cameras analysed against none, and whether within 10%."""
    p50 = ratio(most["delay_p50_ms"], reference["delay_p50_ms"])
    p99 = ratio(most["delay_p99_ms"], reference["delay_p99_ms"])
    fps = ratio(most["viewer_fps_min"], reference["viewer_fps_min"])
    return {
        "delay_p50_ratio": p50,
        "delay_p99_ratio": p99,
        "viewer_fps_ratio": fps,
        "delay_p50_within_10pct": p50 is not None and p50 <= 1 + UNCHANGED,
        "delay_p99_within_10pct": p99 is not None and p99 <= 1 + UNCHANGED,
        "viewer_fps_within_10pct": fps is not None and fps >= 1 - UNCHANGED,
    }


def median_row(rows: list[dict]) -> dict:
    """One count's figures over the repeats: the median of each (the first row's when only one)."""
    if len(rows) == 1:
        return rows[0]
    out = dict(rows[0])
    for key, value in rows[0].items():
        values = [r[key] for r in rows if r[key] is not None]
        if isinstance(value, list):
            out[key] = [v for r in rows for v in r[key]]  # every repeat's
        elif isinstance(value, bool) or key == "analysed":
            out[key] = all(r[key] for r in rows) if isinstance(value, bool) else value
        elif isinstance(value, (int, float)) and values:
            out[key] = round(statistics.median(values), 3)
    return out


def ratio_spread(windows: list[list[dict]]) -> dict:
    """Each repeat's own ratio (most analysed against none, measured minutes apart): the spread, min to max.

    The machine is shared: what else runs changes from one window to the next, so
    repeats alternate the two servers and each pair is compared on its own.
    """
    pairs = [live_view_change(w[0], w[-1]) for w in windows]
    out = {}
    for key in ("delay_p50_ratio", "delay_p99_ratio", "viewer_fps_ratio"):
        values = [p[key] for p in pairs if p[key] is not None]
        out[f"{key}_range"] = [min(values), max(values)] if values else None
    return out


def analytics_counts(server: BconnectServer, cameras: list[str]) -> dict[str, tuple[int, int, float, int]]:
    """camera -> (processed, dropped, hub fps, detected: frames the deployment's detector ran on)."""
    health = server.get("/api/health")["cameras"]
    out = {}
    for cid in cameras:
        a = (health.get(cid) or {}).get("analytics") or {}
        mine = (a.get("analyzers") or {}).get(ANALYZER) or {}
        detected = int((a.get("detection") or {}).get("detected") or 0)
        out[cid] = (int(mine.get("processed", 0)), int(a.get("dropped", 0)), float(a.get("fps", 0.0)), detected)
    return out


def rules_processed(server: BconnectServer, cameras: list[str], rules: list[str]) -> dict[str, int]:
    """camera -> the frames its least busy shipped rule processed (0 without rules)."""
    health = server.get("/api/health")["cameras"]
    out = {}
    for cid in cameras:
        analyzers = (((health.get(cid) or {}).get("analytics") or {}).get("analyzers") or {})
        out[cid] = min((int((analyzers.get(r) or {}).get("processed", 0)) for r in rules), default=0)
    return out


def run_phase(args: argparse.Namespace, loadgen: Loadgen, k: int, extra_env: dict[str, str] | None = None) -> dict:
    cams = {f"cam{i}": loadgen.url(f"cam{i}") for i in range(args.cameras)}
    analysed = [f"cam{i}" for i in range(k)]
    env = {"BENCH_ANALYSE": ",".join(analysed), "BENCH_FPS": str(args.fps), "BENCH_COST_MS": str(args.cost_ms),
           **({"BENCH_DETECTOR": args.detector, "BENCH_COST_MS": "0"} if args.detector != "stand-in" else {}),
           **({"BENCH_RULES": args.rules} if args.rules else {}),
           **(extra_env or {})}
    server = BconnectServer(cams, max_viewers=max(16, args.viewers), env=env,
                            entry=[str(BENCH_DIR / "analytics_server.py")])
    viewers = None
    try:
        server.start()
        server.wait_online()
        if args.viewers:
            viewers = ViewerGroup(server.base_url, server.token, [f"cam{i % args.cameras}" for i in range(args.viewers)],
                                  procs=1)
            viewers.start()
        time.sleep(args.settle)
        pid = server.process.pid
        rules = [r for r in args.rules.split(",") if r]
        c0, t0, a0 = tree_cpu_seconds(pid), time.monotonic(), analytics_counts(server, analysed)
        r0 = rules_processed(server, analysed, rules)
        s0, load0 = loop_schedstat(pid), os.getloadavg()[0]
        seconds = args.reference_seconds if k == 0 and args.reference_seconds else args.seconds
        rss = [rss_mb(pid)]
        times = [0.0]
        while time.monotonic() - t0 < seconds:
            time.sleep(min(1.0, seconds))
            rss.append(rss_mb(pid))
            times.append(time.monotonic() - t0)
        rss_tree = tree_rss_mb(pid)
        c1, t1, a1 = tree_cpu_seconds(pid), time.monotonic(), analytics_counts(server, analysed)
        r1 = rules_processed(server, analysed, rules)
        s1, load1 = loop_schedstat(pid), os.getloadavg()[0]
        sessions = server.get("/api/webrtc")["list"] if args.viewers else []
        stats = viewers.stop() if viewers is not None else []
        window = t1 - t0
        wakeups = max(1, s1[2] - s0[2])
        processed = [(a1[c][0] - a0[c][0]) / window for c in analysed]
        detected = [(a1[c][3] - a0[c][3]) / window for c in analysed]
        dropped = sum(a1[c][1] - a0[c][1] for c in analysed) / window if analysed else 0.0
        p50 = [s["delay_p50_ms"] for s in sessions if s.get("delay_p50_ms") is not None]
        p99 = [s["delay_p99_ms"] for s in sessions if s.get("delay_p99_ms") is not None]
        fps = [s["fps"] for s in stats if s.get("fps")]
        return {
            "analysed": k,
            "hub_fps_min": round(min((a1[c][2] for c in analysed), default=0.0), 2),
            "processed_fps_min": round(min(processed, default=0.0), 2),
            "detected_fps_min": round(min(detected, default=0.0), 2),
            "detected_fps_median": round(statistics.median(detected), 2) if detected else 0.0,
            "dropped_per_s": round(dropped, 2),
            **({"rules_fps_min": round(min((r1[c] - r0[c]) / window for c in analysed), 2)} if rules and analysed else {}),
            "keeps_up": all(p >= KEEP_UP * args.fps for p in processed),
            "server_cpu": round((c1 - c0) / window, 3),
            "rss_mb": round(max(rss), 1),
            "rss_mb_first": round(rss[0], 1),
            "rss_mb_last": round(rss[-1], 1),
            "rss_mb_per_min_late": rss_slope(times, rss),
            "rss_mb_with_children": round(rss_tree, 1),  # at the window's end: a frame or detector worker's too
            "viewer_fps_min": round(min(fps), 2) if fps else None,
            "delay_p50_ms": round(statistics.median(p50), 2) if p50 else None,
            "delay_p99_ms": round(max(p99), 2) if p99 else None,
            # the loop thread itself: its own CPU, how often it ran, and how long it waited for a core each time
            "loop_cpu_ms_per_s": round((s1[0] - s0[0]) / 1e6 / window, 1),
            "loop_runs_per_s": round((s1[2] - s0[2]) / window),
            "loop_wait_us_per_run": round((s1[1] - s0[1]) / 1e3 / wakeups),
            "loadavg_1m": [round(load0, 1), round(load1, 1)],  # the whole machine's, before and after
        }
    finally:
        if viewers is not None:
            viewers.stop()
        server.stop()


def print_table(rows: list[dict]) -> None:
    print(f"\n{'analysed':>8} {'hub fps':>8} {'done fps':>8} {'drop/s':>7} {'keeps up':>8} {'CPU':>6} {'RSS MB':>7}"
          f" {'viewer fps':>10} {'delay p50':>9} {'p99 ms':>7} {'det fps':>7}")
    for r in rows:
        print(f"{r['analysed']:>8} {r['hub_fps_min']:>8} {r['processed_fps_min']:>8} {r['dropped_per_s']:>7}"
              f" {str(r['keeps_up']):>8} {r['server_cpu']:>6} {r['rss_mb']:>7} {str(r['viewer_fps_min']):>10}"
              f" {str(r['delay_p50_ms']):>9} {str(r['delay_p99_ms']):>7} {r['detected_fps_min']:>7}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=16)
    ap.add_argument("--analyse", default="0,1,2,4,8,16", help="camera counts to analyse, one server each (0: none)")
    ap.add_argument("--viewers", type=int, default=2)
    ap.add_argument("--fps", type=float, default=5.0, help="frames a second the analyzer asks for")
    ap.add_argument("--cost-ms", type=float, default=17.0, help="CPU the stand-in detector spends per frame")
    ap.add_argument("--detector", choices=("stand-in", "vision_onnx"), default="stand-in",
                    help="the analysis load: the stand-in's fixed cost, or the real vision_onnx detector (default model)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=4.0)
    ap.add_argument("--reference-seconds", type=float, default=None,
                    help="how long the reference (nothing analysed) is measured; default --seconds (a long memory run "
                         "needs its full length only with analytics)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure every count this many times, alternating (figures: medians; ratios: their spread too)")
    ap.add_argument("--variant-env", default=None, metavar="NAME=A,B",
                    help="measure the most analysed count once per value of the server's environment variable NAME, "
                         "back to back in each repeat (an A/B of a setting)")
    ap.add_argument("--footage", type=Path, default=None,
                    help="a video file the cameras play instead of the texture (e.g. Debian's vtest.avi), looped")
    ap.add_argument("--rules", default="",
                    help="shipped rules on the analysed cameras too, comma-separated (parking_rule, crime_watch), "
                         "with zones over vtest.avi's plaza (bench/analytics_server.py)")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--kbps", type=int, default=800)
    args = ap.parse_args()
    counts = sorted({min(int(k), args.cameras) for k in args.analyse.split(",")})
    if counts[0] != 0:
        counts.insert(0, 0)  # the reference: live view without analytics, in this run
    width, height = (int(x) for x in args.size.lower().split("x"))
    if args.footage is not None and not args.footage.is_file():
        ap.error(f"--footage {args.footage}: no such file (Debian's opencv-doc has vtest.avi)")
    clip = ensure_clip(2.0, width=width, height=height, kbps=args.kbps, footage=args.footage,
                       seconds=60.0 if args.footage is not None else 12.0)
    load = (f"the vision_onnx detector (default model) at {args.fps:g} fps" if args.detector == "vision_onnx" else
            f"stand-in detector {args.cost_ms:g} ms CPU per frame at {args.fps:g} fps (not a real detector)")
    if args.rules:
        load += f", rules {args.rules}"
    print(f"analytics load: {args.cameras} cameras of {width}x{height}p30 H.264 ({clip.name}), {args.viewers} viewers,"
          f" {load}", flush=True)
    variant_name, variant_values = None, []
    if args.variant_env:
        variant_name, _, values = args.variant_env.partition("=")
        variant_values = [v for v in values.split(",") if v]
    loadgen = Loadgen({f"cam{i}": clip for i in range(args.cameras)}).start()
    windows: list[list[dict]] = []  # per repeat, one row per count
    variant_windows: dict[str, list[list[dict]]] = {v: [] for v in variant_values}  # per value: (reference, most)
    try:
        for repeat in range(args.repeats):
            windows.append([])
            for k in counts:
                print(f"  {k} cameras analysed{f' (repeat {repeat + 1})' if args.repeats > 1 else ''} ...", flush=True)
                windows[-1].append(run_phase(args, loadgen, k))
                print(f"    {windows[-1][-1]}", flush=True)
            for value in variant_values:  # the same count again, once per value, right after this repeat's reference
                print(f"  {counts[-1]} cameras analysed, {variant_name}={value} ...", flush=True)
                row = run_phase(args, loadgen, counts[-1], {variant_name: value})
                print(f"    {row}", flush=True)
                variant_windows[value].append([windows[-1][0], row])
    finally:
        loadgen.stop()
    rows = [median_row([w[i] for w in windows]) for i in range(len(counts))]
    print_table(rows)
    reference = rows[0]
    kept = [r["analysed"] for r in rows if r["keeps_up"] and r["analysed"] > 0]
    most = rows[-1]
    result = {
        "cameras": args.cameras,
        "fps": args.fps,
        "cost_ms": args.cost_ms if args.detector == "stand-in" else 0.0,
        "detector": args.detector,
        "cameras_at_fps": max(kept, default=0),
        "rss_mb_most_analysed": most["rss_mb"],
        "most_analysed": most["analysed"],
        "viewer_fps_min_without": reference["viewer_fps_min"],
        "viewer_fps_min_with": most["viewer_fps_min"],
        "delay_p50_ms_without": reference["delay_p50_ms"],
        "delay_p50_ms_with": most["delay_p50_ms"],
        "delay_p99_ms_without": reference["delay_p99_ms"],
        "delay_p99_ms_with": most["delay_p99_ms"],
        **live_view_change(reference, most),
        **ratio_spread(windows),
        "repeats": args.repeats,
        "rows": rows,
    }
    if variant_values:
        result["variants"] = {}
        for value, pairs in variant_windows.items():
            most_v = median_row([p[1] for p in pairs])
            result["variants"][f"{variant_name}={value}"] = {
                **live_view_change(reference, most_v),
                **ratio_spread(pairs),
                "delay_p50_ms": most_v["delay_p50_ms"],
                "delay_p99_ms": most_v["delay_p99_ms"],
                "processed_fps_min": most_v["processed_fps_min"],
                "detected_fps_min": most_v["detected_fps_min"],
                "rows": [p[1] for p in pairs],
            }
            print(f"  {variant_name}={value}: delay p50 x{result['variants'][f'{variant_name}={value}']['delay_p50_ratio']},"
                  f" p99 x{result['variants'][f'{variant_name}={value}']['delay_p99_ratio']}")
    print(f"\ncameras analysed at {args.fps:g} fps on this machine: {result['cameras_at_fps']}"
          f" (of {args.cameras}); server RSS with {most['analysed']} analysed: {most['rss_mb']} MB")
    print(f"live view with {most['analysed']} analysed / without: delay p50 x{result['delay_p50_ratio']},"
          f" p99 x{result['delay_p99_ratio']}, viewer fps x{result['viewer_fps_ratio']}"
          f" (target: within {UNCHANGED:.0%})")
    final(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
