"""What ``make run``'s deployment analyses, and how: one camera per kind of alert, on the stream and at the rate
that shows that alert on two cores (bench/demo_alerts.py measures it, bench/README.md has the figures).

Built from ``deploy/demo.toml`` by the real config loader and plugin host, no server: each analyzer is asked
which of the demo's cameras (the simulator's, as its driver lists them, and the real footage) it wants.
"""

from __future__ import annotations

from pathlib import Path

from core.config import load_file
from core.interfaces import CameraInfo, StreamSource
from core.plugin_host import load_plugins

REPO = Path(__file__).resolve().parent.parent

# kind of alert -> (the camera that shows it, its scenario); None: the real footage
SHOWN_BY = {
    "parking.violation": ("vtest", None),
    "red_light.violation": ("sim-bm-etle", "red_light"),
    "sign.violation:wrong_way": ("sim-beller-etle", "wrong_way"),
    "speed.violation": ("sim-bpb-etle", "speeding"),
    "accident.suspected": ("sim-beller-1", "collision"),
    "crime.loitering": ("sim-bpb-1", "loiter_night"),
    "crime.restricted_area": ("sim-bpb-1", "loiter_night"),
    "crime.crowd": ("sim-beller-2", "crowd"),
    "crime.running": ("sim-bpb-3", "running"),
}
PLUGIN_OF = {"parking": "parking_rule", "red_light": "etle_rules", "sign": "etle_rules", "speed": "etle_rules",
             "accident": "accident_watch",
             "crime": "crime_watch"}


async def test_the_demo_analyses_one_camera_per_kind_of_alert_on_its_sub_stream_and_shows_the_rest():
    cfg = load_file(REPO / "deploy" / "demo.toml")
    host = load_plugins(cfg)
    sim = host.pm.get_plugin("traffic_sim")
    cameras = {c.id: c for c in await sim.cameras()}
    cameras["vtest"] = CameraInfo(id="vtest", name="vtest", agency="dishub", driver="stream_url",
                                  main=StreamSource(url="./data/footage/vtest.mp4"))
    scenario = {c["id"]: c["scenario"] for c in cfg.deployment.plugins["traffic_sim"]["cameras"]}

    wanted: dict[str, set[str]] = {}
    fps: dict[str, float] = {}
    rate: dict[str, float] = {}  # camera -> the rate it is decoded at (the highest its analyzers ask)
    for plugin, analyzer in host.analyzers:
        wanted[plugin] = {cid for cid, info in cameras.items() if analyzer.wants(info)}
        fps[plugin] = float(analyzer.fps)
        fps_for = getattr(analyzer, "fps_for", None)
        for cid in wanted[plugin]:
            rate[cid] = max(rate.get(cid, 0.0), float(fps_for(cameras[cid]) if fps_for else analyzer.fps))

    # every kind's camera runs its rule's scenario and is analysed by that rule
    for kind, (camera, scene) in SHOWN_BY.items():
        assert scenario.get(camera) == scene, kind
        assert camera in wanted[PLUGIN_OF[kind.split(".")[0]]], kind
    analysed = set().union(*wanted.values())
    assert analysed == {camera for camera, _ in SHOWN_BY.values()}
    # every camera is still there, the hard negatives and the simulated no-parking scenes shown but not analysed
    assert set(cameras) - analysed == {"sim-bm-1", "sim-bm-2", "sim-wika-1", "sim-wika-2", "sim-bpb-2", "sim-wika-etle",
                                       "sim-beller-3"}

    # rates: each rule's the least at which its scene's alert was measured to come (a car that stands: 1)
    assert fps == {"parking_rule": 1.0, "etle_rules": 5.0, "accident_watch": 5.0, "crime_watch": 4.0}
    # ... but the speed camera's 10 (speed_fps): at 5 the speeder is not followed from line to line
    assert rate["sim-bpb-etle"] == 10.0 and rate["sim-bm-etle"] == 5.0

    # the detector reads a sub stream where what the rule needs is found in it: 640x360, the wrong-way car at
    # 960x540, the speeder at 960x540 too; the runners at 640x360 with the watched area's close-ups (without them only on the 1280x720 main)
    subs = {cid: c.sub for cid, c in cameras.items() if cid in analysed and cid != "vtest"}
    sizes = {cid: Path(s.url).stem.rsplit(".sub-", 1)[1] for cid, s in subs.items() if s is not None}
    assert sizes == {"sim-bm-etle": "640x360", "sim-beller-etle": "960x540", "sim-bpb-etle": "960x540", "sim-beller-1": "640x360",
                     "sim-bpb-1": "640x360", "sim-beller-2": "640x360", "sim-bpb-3": "640x360"}
    assert all(s.realtime_loop for s in subs.values() if s is not None)

    # demo thresholds, said in the file: no-parking 15 s (120 s in a real deployment), a crowd of 3 (8)
    assert host.pm.get_plugin("parking_rule").config.dwell_s == 15
    assert host.pm.get_plugin("crime_watch").config.crowd_size == 3
