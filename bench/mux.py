"""Media core benchmark: ingest and WebRTC fan-out CPU, drops and added delay, against aiortc's baseline.

    .venv/bin/python bench/mux.py --cameras 53 --viewers 10 --seconds 10 --repeats 3

N cameras of 1080p30 H.264 at about 4 Mbit/s come from the load generator
(``bench/loadgen.py``, its own process); the server under test is a real
``bconnect serve`` with one ``stream_url`` camera per RTSP mount; M WHEP
viewers (``bench/viewers.py``, two processes of aiortc receivers that do not
decode) watch cameras 0, 1, 2, ... in turn. Then the same cameras and viewers
run against the baseline (``bench/baseline.py``: aiortc's ``MediaPlayer(url,
decode=False)`` + ``MediaRelay``, one player per camera).

Each of the four phases (B-Connect idle, B-Connect with viewers, baseline
idle, baseline with viewers) measures ``--repeats`` windows of ``--seconds``;
the figures are the windows' medians, their spread printed beside them. CPU is
the server process's own and its ingest processes' (``/proc/PID/stat``, all threads), never the viewers'
or the load generator's, which are printed separately with the whole
machine's load so the reader sees what else ran.

The last line printed is one JSON object (keys in bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from common import (
    BENCH_DIR,
    OUT_DIR,
    HARNESS_NICE,
    BconnectServer,
    Loadgen,
    ViewerGroup,
    _ready_line,
    tree_cpu_seconds,
    final,
    free_port,
    machine_cpu_seconds,
    spread,
)
from loadgen import ensure_clip

FLEET_CAMERAS = 53  # Balikpapan's cameras
FLEET_VIEWERS = 10


@dataclass
class Window:
    seconds: float
    server_cpu: float
    loadgen_cpu: float
    viewers_cpu: float
    machine_cpu: float


@dataclass
class Phase:
    name: str
    windows: list[Window] = field(default_factory=list)

    def per_s(self, attr: str) -> list[float]:
        return [getattr(w, attr) / w.seconds for w in self.windows]

    def median(self, attr: str) -> float:
        return statistics.median(self.per_s(attr))


def measure(phase: Phase, seconds: float, repeats: int, server_pid: int, loadgen: Loadgen,
            viewers: ViewerGroup | None) -> Phase:
    for _ in range(repeats):
        t0 = time.monotonic()
        s0, l0, m0 = tree_cpu_seconds(server_pid), loadgen.cpu_s(), machine_cpu_seconds()
        v0 = viewers.cpu_s() if viewers else 0.0
        time.sleep(seconds)
        s1, l1, m1 = tree_cpu_seconds(server_pid), loadgen.cpu_s(), machine_cpu_seconds()
        v1 = viewers.cpu_s() if viewers else 0.0
        phase.windows.append(Window(time.monotonic() - t0, s1 - s0, l1 - l0, v1 - v0, m1 - m0))
    w = phase.per_s
    print(
        f"  {phase.name:<26} server {phase.median('server_cpu'):.3f} CPU{spread(w('server_cpu'))}"
        f" | loadgen {phase.median('loadgen_cpu'):.3f} | viewers {phase.median('viewers_cpu'):.3f}"
        f" | machine {phase.median('machine_cpu'):.2f} of {os.cpu_count()} cores busy",
        flush=True,
    )
    return phase


def viewer_cameras(cameras: int, viewers: int) -> list[str]:
    return [f"cam{i % cameras}" for i in range(viewers)]


def summarize_viewers(stats: list[dict]) -> str:
    fps = [s["fps"] for s in stats if s.get("fps")]
    if not fps:
        return "no frames"
    return f"{len(stats)} viewers, {min(fps):.1f}..{max(fps):.1f} frames/s each"


def profile(pid: int, seconds: float, path: str) -> None:
    spy = shutil.which("py-spy") or str(BENCH_DIR.parent / ".venv" / "bin" / "py-spy")
    # --nonblocking: never pause the server (a paused server drops packets and delays its viewers)
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--threads", "--idle", "--subprocesses",
           "--nonblocking", "--rate", "100", "--output", path]
    if path.endswith(".txt"):
        cmd += ["--format", "raw"]
    elif path.endswith(".json"):
        cmd += ["--format", "speedscope"]
    print(f"  profiling the server for {seconds:g} s: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=False, capture_output=True, timeout=seconds + 60)


def run_bconnect(args: argparse.Namespace, loadgen: Loadgen) -> dict:
    cams = {f"cam{i}": loadgen.url(f"cam{i}") for i in range(args.cameras)}
    server = BconnectServer(cams, max_viewers=max(16, args.viewers), transport=args.transport,
                            ingest_processes=args.ingest_processes)
    viewers = None
    try:
        server.start()
        took = server.wait_online()
        print(f"  bconnect serve pid {server.process.pid}: {args.cameras} cameras online after {took:.1f} s", flush=True)
        time.sleep(args.settle)
        idle = measure(Phase("B-Connect, 0 viewers"), args.seconds, args.repeats, server.process.pid, loadgen, None)
        dropped_before = server.dropped()
        watched = Phase(f"B-Connect, {args.viewers} viewers")
        sessions: list[dict] = []
        stats: list[dict] = []
        if args.viewers:
            viewers = ViewerGroup(server.base_url, server.token, viewer_cameras(args.cameras, args.viewers),
                                  procs=min(args.viewer_procs, args.viewers), nice=args.harness_nice)
            ttff = viewers.start()
            print(f"  viewers connected; first frames after {min(ttff):.2f}..{max(ttff):.2f} s", flush=True)
            time.sleep(args.settle)
            measure(watched, args.seconds, args.repeats, server.process.pid, loadgen, viewers)
            sessions = server.get("/api/webrtc")["list"]
        dropped = server.dropped()
        if args.profile:  # after the figures are taken: sampling disturbs the server a little
            profile(server.process.pid, args.seconds, args.profile)
        if viewers is not None:
            stats = viewers.stop()
            print(f"  {summarize_viewers(stats)}", flush=True)
        return {"idle": idle, "watched": watched, "sessions": sessions, "viewer_stats": stats,
                "dropped": dropped, "dropped_with_viewers": dropped - dropped_before}
    finally:
        if viewers is not None:
            viewers.stop()
        server.stop()


def run_baseline(args: argparse.Namespace, loadgen: Loadgen) -> dict:
    port = free_port()
    cmd = [sys.executable, str(BENCH_DIR / "baseline.py"), "--port", str(port)]
    for i in range(args.cameras):
        cmd += ["--camera", f"cam{i}={loadgen.url(f'cam{i}')}"]
    with open(OUT_DIR / "baseline.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    viewers = None
    try:
        line = _ready_line(proc, "baseline", 120, OUT_DIR / "baseline.log")
        if not line.startswith("READY"):
            raise RuntimeError(f"baseline: {line}")
        print(f"  baseline pid {proc.pid}: {args.cameras} players delivering", flush=True)
        time.sleep(args.settle)
        idle = measure(Phase("baseline, 0 viewers"), args.seconds, args.repeats, proc.pid, loadgen, None)
        watched = Phase(f"baseline, {args.viewers} viewers")
        stats: list[dict] = []
        if args.viewers:
            viewers = ViewerGroup(f"http://127.0.0.1:{port}", "", viewer_cameras(args.cameras, args.viewers),
                                  procs=min(args.viewer_procs, args.viewers), nice=args.harness_nice)
            viewers.start()
            time.sleep(args.settle)
            measure(watched, args.seconds, args.repeats, proc.pid, loadgen, viewers)
            stats = viewers.stop()
            print(f"  {summarize_viewers(stats)}", flush=True)
        return {"idle": idle, "watched": watched, "viewer_stats": stats}
    finally:
        if viewers is not None:
            viewers.stop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def delays(sessions: list[dict]) -> tuple[float | None, float | None]:
    """The median of the sessions' p50s and the worst of their p99s, in ms."""
    p50s = [s["delay_p50_ms"] for s in sessions if s.get("delay_p50_ms") is not None]
    p99s = [s["delay_p99_ms"] for s in sessions if s.get("delay_p99_ms") is not None]
    return (statistics.median(p50s) if p50s else None, max(p99s) if p99s else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--viewers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of one measured window")
    ap.add_argument("--repeats", type=int, default=1, help="measured windows per phase (their spread is printed)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to let each phase settle before measuring")
    ap.add_argument("--size", default="1920x1080", help="picture size of the clip (default %(default)s)")
    ap.add_argument("--kbps", type=int, default=4000)
    ap.add_argument("--ingest-processes", type=int, default=0,
                    help="the server's [media] ingest_processes (0, the default: ingest threads in the server process)")
    ap.add_argument("--harness-nice", type=int, default=HARNESS_NICE,
                    help="CPU niceness of the load generator and viewers (0: same priority as the server)")
    ap.add_argument("--viewer-procs", type=int, default=2, help="processes the viewers are spread over")
    ap.add_argument("--transport", choices=("tcp", "udp"), default="tcp",
                    help="RTSP transport B-Connect asks the cameras for (default %(default)s; the baseline uses tcp)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--profile", help="also record a py-spy profile of the server with viewers (.svg, .txt, .json)")
    args = ap.parse_args()
    if args.cameras < 1 or args.viewers < 0 or args.seconds <= 0 or args.repeats < 1:
        ap.error("need --cameras >= 1, --viewers >= 0, --seconds > 0, --repeats >= 1")
    width, height = (int(x) for x in args.size.lower().split("x"))

    clip = ensure_clip(2.0, width=width, height=height, kbps=args.kbps)
    print(f"mux bench: {args.cameras} cameras of {width}x{height}p30 H.264 ~{args.kbps} kbit/s ({clip.name}),"
          f" {args.viewers} viewers, {args.repeats} x {args.seconds:g} s per phase", flush=True)
    load_before = os.getloadavg()[0]
    loadgen = Loadgen({f"cam{i}": clip for i in range(args.cameras)}, nice=args.harness_nice).start()
    try:
        ours = run_bconnect(args, loadgen)
        base = None if args.skip_baseline else run_baseline(args, loadgen)
    finally:
        loadgen.stop()

    n, m = args.cameras, args.viewers
    per_camera = ours["idle"].median("server_cpu") / n
    per_viewer = (ours["watched"].median("server_cpu") - ours["idle"].median("server_cpu")) / m if m else None
    p50, p99 = delays(ours["sessions"])
    result: dict = {
        "cameras": n,
        "viewers": m,
        "ingest_processes": args.ingest_processes,
        "harness_nice": args.harness_nice,
        "cpu_s_per_camera_s": round(per_camera, 5),
        "cpu_s_per_viewer_s": None if per_viewer is None else round(per_viewer, 5),
        "dropped_packets": ours["dropped"],
        "delay_p50_ms": p50,
        "delay_p99_ms": p99,
        "baseline_cpu_s_per_camera_s": None,
        "ratio_vs_baseline": None,
    }
    fleet = per_camera * FLEET_CAMERAS + (per_viewer or 0.0) * FLEET_VIEWERS
    result["fleet_cpu_53_cameras_10_viewers"] = round(fleet, 3)
    result["server_cpu_idle"] = round(ours["idle"].median("server_cpu"), 4)
    result["server_cpu_watched"] = round(ours["watched"].median("server_cpu"), 4) if m else None
    result["server_cpu_idle_spread"] = [round(x, 4) for x in ours["idle"].per_s("server_cpu")]
    result["loadgen_cpu"] = round(ours["idle"].median("loadgen_cpu"), 4)
    result["machine_busy_cores"] = round(ours["idle"].median("machine_cpu"), 3)
    result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]  # before and after: others' work
    if ours["viewer_stats"]:
        result["viewer_fps_min"] = min((s["fps"] or 0.0) for s in ours["viewer_stats"])

    print("\nB-Connect:")
    print(f"  CPU per camera            {per_camera:.5f} CPU-s per camera-s"
          f"  ({ours['idle'].median('server_cpu'):.3f} CPU for {n} cameras, nothing watched)")
    if per_viewer is not None:
        print(f"  marginal CPU per viewer   {per_viewer:.5f} CPU-s per viewer-s")
        print(f"  added delay (arrival to RTP sender)  p50 {p50} ms, p99 {p99} ms (median p50 / worst p99 of sessions)")
    print(f"  packets dropped           {ours['dropped']} ({ours['dropped_with_viewers']} while viewers watched)")
    print(f"  fleet estimate            {fleet:.3f} CPU for {FLEET_CAMERAS} cameras + {FLEET_VIEWERS} viewers"
          f" (target < 1.0)")
    print(f"  load generator            {result['loadgen_cpu']:.3f} CPU; machine {result['machine_busy_cores']:.2f}"
          f" of {os.cpu_count()} cores busy (everything, other users' work included);"
          f" load average {result['loadavg_1m'][0]} before, {result['loadavg_1m'][1]} after (all threads, ours too)")
    if base is not None:
        b_idle = base["idle"].median("server_cpu")
        b_per_camera = b_idle / n
        b_per_viewer = (base["watched"].median("server_cpu") - b_idle) / m if m else None
        ours_total = ours["watched"].median("server_cpu") if m else ours["idle"].median("server_cpu")
        base_total = base["watched"].median("server_cpu") if m else b_idle
        ratio = ours_total / base_total if base_total > 0 else None
        result["baseline_cpu_s_per_camera_s"] = round(b_per_camera, 5)
        result["ratio_vs_baseline"] = None if ratio is None else round(ratio, 3)
        result["baseline_cpu_s_per_viewer_s"] = None if b_per_viewer is None else round(b_per_viewer, 5)
        if base["viewer_stats"]:
            result["baseline_viewer_fps_min"] = min((s["fps"] or 0.0) for s in base["viewer_stats"])
        print("aiortc baseline (MediaPlayer decode=False + MediaRelay):")
        print(f"  CPU per camera            {b_per_camera:.5f} CPU-s per camera-s")
        if b_per_viewer is not None:
            print(f"  marginal CPU per viewer   {b_per_viewer:.5f} CPU-s per viewer-s")
        if ratio is not None:
            print(f"  B-Connect / baseline      {ratio:.3f} (whole server CPU, {m} viewers watching)")
    final(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
