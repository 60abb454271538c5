"""``bconnect serve`` with a stand-in analyzer, for ``bench/analytics_load.py``.

    python bench/analytics_server.py serve --config DEPLOYMENT.toml

The stand-in costs a fixed ``BENCH_COST_MS`` of CPU on each frame the frame
hub marks worth detecting (motion gating), in the runner's worker thread and
with the GIL released (one PBKDF2-SHA256 call, its rounds measured on the first
frame to cost that much, as ONNX Runtime releases the GIL for a whole
inference): a detector of known, steady cost.
It analyses the cameras listed in ``BENCH_ANALYSE`` (comma-separated ids) at
``BENCH_FPS`` frames a second. With ``BENCH_DETECTOR=vision_onnx`` the
deployment also runs the real detector (the default model, on the best
provider, tiles as the frame size gives, ``isolation`` from
``BENCH_ISOLATION``): the runner's tracking stage feeds the stand-in every
frame through it, and the stand-in's own cost is ``BENCH_COST_MS`` on top
(``bench/analytics_load.py --detector vision_onnx`` sets it to 0).

``BENCH_RULES=parking_rule,crime_watch``: the shipped rules too, on the
analysed cameras, all day, with a zone file per camera written to a temporary
folder (a no-parking kerb and a watched area over the plaza of Debian's
``vtest.avi``, which ``bench/analytics_load.py --footage`` plays). ``BENCH_RULES_LOOP=server``
runs their ``process`` on the server's loop (``analytics_loop`` off, as before
2026-12-03), ``analytics``: as shipped.

``BENCH_REALTIME_LOOP=off`` runs the event loop's thread at normal priority
(``[server] realtime_loop = false``; ``on``, the default, where permitted).

``BENCH_PROFILE=PATH``: the event loop's thread runs under cProfile from a
SIGUSR1 to a SIGUSR2, which writes the stats to ``PATH`` (``pstats`` reads
them): where the loop's time goes while the bench runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core.serve  # noqa: E402
from core.app import create_app  # noqa: E402
from core.cli import _load  # noqa: E402
from core.hookspecs import hookimpl  # noqa: E402
from core.plugin_host import PluginState, load_plugins  # noqa: E402


class StandInDetector:
    name = "stand_in_detector"

    def __init__(self, cameras: set[str], fps: float, cost_ms: float) -> None:
        self.cameras = cameras
        self.fps = fps
        self.cost_s = cost_ms / 1000
        self._rounds: int | None = None  # of PBKDF2 per frame: about cost_ms of CPU

    def wants(self, camera) -> bool:
        return camera.id in self.cameras

    def process(self, frame, ctx) -> None:
        if not frame.detect or not self.cost_s:
            return  # motion gating: a still frame costs nothing (0: the real detector is the load)
        if self._rounds is None:
            self._rounds = self._calibrate()
        # one call, the GIL released throughout, as ONNX Runtime's run is; hashing the picture in a loop until the
        # thread's CPU clock said so took the GIL back (and read the clock under it) a dozen times a frame
        hashlib.pbkdf2_hmac("sha256", frame.image[:1, :64].tobytes(), b"stand-in", self._rounds)

    def _calibrate(self) -> int:
        """PBKDF2 rounds that cost about ``cost_s`` of this thread's CPU (measured on the first frame)."""
        rounds = 1000
        while True:
            start = time.thread_time()
            hashlib.pbkdf2_hmac("sha256", b"calibrate", b"stand-in", rounds)
            spent = time.thread_time() - start
            if spent >= 0.1:
                return max(1, int(rounds * self.cost_s / spent))
            rounds *= 2


# the plaza of vtest.avi, as fractions: the kerb where a van and a car stand (deploy/demo-zones/vtest.json), and
# the walkway people cross (a watched area)
KERB = [[0.78, 0.02], [1.0, 0.02], [1.0, 0.25], [0.78, 0.25]]
PLAZA = [[0.0, 0.2], [1.0, 0.2], [1.0, 1.0], [0.0, 1.0]]
ALL_DAY = [{"start": "00:00", "end": "24:00"}]
RULES = {
    "parking_rule": {"windows": ALL_DAY},
    "crime_watch": {"loiter_windows": ALL_DAY},
}


def enable_rules(cfg, names: list[str], cameras: list[str]) -> None:
    """The shipped rules on ``cameras``, with a zone file per camera written to a fresh folder."""
    unknown = sorted(set(names) - set(RULES))
    if unknown:
        raise SystemExit(f"BENCH_RULES: {', '.join(unknown)} unknown (known: {', '.join(RULES)})")
    for name in names:
        cfg.deployment.plugins[name] = {**RULES[name], "cameras": cameras}
    folder = Path(tempfile.mkdtemp(prefix="bench-zones-"))
    for camera in cameras:
        doc = {"format": "bconnect.zones", "version": 1, "camera": camera, "zones": [
            {"id": "kerb", "name": "Kerb", "kind": "no_parking", "points": KERB},
            {"id": "plaza", "name": "Plaza", "kind": "watched_area", "points": PLAZA},
        ]}
        (folder / f"{camera}.json").write_text(json.dumps(doc))
    cfg.deployment.analytics.zone_files = [str(folder / f"{c}.json") for c in cameras]


class BenchAnalytics:
    def __init__(self, analyzer: StandInDetector) -> None:
        self.analyzer = analyzer

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)


def _profile_on_signals(path: str) -> None:
    """The event loop's thread under cProfile between SIGUSR1 and SIGUSR2 (stats written to ``path``)."""
    import cProfile
    import signal

    profile = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())

    def dump(*_) -> None:
        profile.disable()
        profile.dump_stats(path)

    signal.signal(signal.SIGUSR2, dump)


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1:3] != ["serve", "--config"]:
        print(__doc__, file=sys.stderr)
        return 2
    cfg = _load(sys.argv[3])
    if os.environ.get("BENCH_DETECTOR") == "vision_onnx":  # the real detector as the analysis load
        cfg.deployment.plugins["vision_onnx"] = {"isolation": os.environ.get("BENCH_ISOLATION", "thread")}
    cameras = sorted({c for c in os.environ.get("BENCH_ANALYSE", "").split(",") if c})
    rules = [r for r in os.environ.get("BENCH_RULES", "").split(",") if r]
    if rules and cameras:
        enable_rules(cfg, rules, cameras)
    host = load_plugins(cfg)
    if os.environ.get("BENCH_RULES_LOOP") == "server":  # A/B: the rules' process on the server's loop, as before
        for name in rules if cameras else ():
            host.pm.get_plugin(name).analyzer.analytics_loop = False
    policy = os.environ.get("BENCH_THREAD_POLICY")  # A/B: "nice" or "idle" over [analytics] thread_policy
    if policy in ("nice", "idle"):
        import core.media.frame_decode as frame_decode

        frame_decode.set_thread_policy(policy)
    switch = os.environ.get("BENCH_SWITCH_INTERVAL_MS")  # A/B: over [analytics] switch_interval_ms (0: Python's 5 ms)
    if switch:
        cfg.deployment.analytics.switch_interval_ms = float(switch)
    realtime = os.environ.get("BENCH_REALTIME_LOOP")  # A/B: "on" or "off" over [server] realtime_loop
    if realtime in ("on", "off"):
        cfg.deployment.server.realtime_loop = realtime == "on"
    decode = os.environ.get("BENCH_DECODE")  # A/B: "thread" or "process" over [analytics] decode
    if decode:
        cfg.deployment.analytics.decode = decode
    analyzer = StandInDetector(set(cameras), float(os.environ.get("BENCH_FPS", "5")), float(os.environ.get("BENCH_COST_MS", "17")))
    host.pm.register(BenchAnalytics(analyzer), name="bench_analytics")
    host.states["bench_analytics"] = PluginState("bench_analytics", None)
    core.serve.create_app = lambda c: create_app(c, host=host)  # serve() builds the app: hand it this host
    if os.environ.get("BENCH_PROFILE"):
        _profile_on_signals(os.environ["BENCH_PROFILE"])
    return core.serve.serve(cfg)


if __name__ == "__main__":
    sys.exit(main())
