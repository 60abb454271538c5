"""The analytics pipeline end to end: a camera's H.264 over real RTSP -> frame hub -> detector -> tracker ->
parking rule -> a published event with its snapshot and evidence clip.

(a) Two simulated cameras, rendered by the simulator itself (480x270, 5 fps, one 30 s pass) and served
as they are by a real RTSP server: ``no_parking_stop`` (a car parks about 19 s in the zone) and the hard
negative ``delivery_stop`` (a truck stops shorter than the threshold). The truth detector replays the
simulator's truth; the zone is the simulator's own, saved in the zone store. Exactly one violation.
(b) Real footage (Debian's vtest.avi, re-encoded to H.264) over RTSP with the default detector
(``vision_onnx`` on CPU) and a no-parking zone over its parked van and car: parking events.
(c) ``bconnect analyze`` prints the events the parking rule gives as ``event`` lines.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import parking_pipeline as pipeline
from support.appclient import bearer_headers, running

from core.analytics.zones import CameraZones
from core.app import create_app
from core.config import load_file
from core.plugin_host import load_plugins
from core.testing.pytest_plugin import bconnect
from core.testing.rtsp import RtspServer
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.replay import TruthReplay

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(180)]

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
THRESHOLD_S = 10.0
ALL_DAY = 'windows = [{ start = "00:00", end = "24:00" }]'
# the van and the car parked at the top right of vtest's plaza (as deploy/demo-zones/vtest.json)
VTEST_ZONE = [(0.78, 0.02), (1.0, 0.02), (1.0, 0.25), (0.78, 0.25)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return {
        name: cache.render(RenderSpec(name, 101, width=480, height=270, fps=5, loop_seconds=30), out).truth
        for name in ("no_parking_stop", "delivery_stop")
    }


@pytest.fixture(scope="module")
def vtest_h264(tmp_path_factory):
    if not VTEST.is_file():
        pytest.fail(f"{VTEST} missing: scripts/setup.sh installs opencv-doc")
    out = tmp_path_factory.mktemp("footage") / "vtest.mp4"
    subprocess.run([sys.executable, "-m", "plugins.stream_url.to_h264", str(VTEST), str(out)], check=True,
                   capture_output=True, timeout=120)
    return out


def _camera(cam_id: str, url: str) -> str:
    return f'[[plugins.stream_url.cameras]]\nid = "{cam_id}"\nname = "{cam_id}"\nurl = "{url}"\n' \
           'agency = "dishub"\narea = "beruang_madu"\n'


async def _events(client, headers) -> list[dict]:
    response = await client.get("/api/events?kind=parking.violation", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["events"]


async def _check_evidence(app, client, headers, event: dict) -> None:
    assert event["snapshot"] is not None and event["clip"] is not None, event
    snap = await client.get(f"/api/events/{event['id']}/snapshot", headers=headers)
    assert snap.status_code == 200 and snap.content.startswith(b"\xff\xd8")
    clip = (await client.get(f"/api/clips/{event['clip']}", headers=headers)).json()
    assert clip["status"] == "ready" and clip["duration_s"] > 2, clip
    # the clip reaches back to the arrival, as far as the pre-roll kept allows
    covered = event["detail"]["clip"]["covered_s"]
    assert covered == pytest.approx(min(event["detail"]["elapsed_s"] + 2.0, 10.0), abs=0.05)


async def test_the_simulated_parked_car_gives_exactly_its_violation_and_the_delivery_none(sim, make_deployment):
    park, deliver = sim["no_parking_stop"], sim["delivery_stop"]
    video = lambda truth: truth.with_name(TruthReplay.load(truth).doc["video"])  # noqa: E731
    # started once the app runs and the zones are saved, so that both files play from their start to the
    # analytics (the cameras retry until then)
    server = RtspServer(mounts={}, files={"park": str(video(park)), "deliver": str(video(deliver))})
    try:
        cfg = load_file(make_deployment(
            _camera("sim-park", server.url("park")) + _camera("sim-deliver", server.url("deliver")) + f"""
            [plugins.truth_detector]
            sim_dir = "{park.parent}"

            [plugins.parking_rule]
            {ALL_DAY}
            """).path)
        host = load_plugins(cfg)
        rule = host.pm.get_plugin("parking_rule").analyzer.rule
        update, threads = rule.update, set()

        def update_where(*args, **kwargs):  # which thread runs the rule: never the server's loop (live view's)
            threads.add(threading.current_thread().name)
            return update(*args, **kwargs)

        rule.update = update_where
        app = create_app(cfg, host=host)
        async with running(app) as client:
            headers = await bearer_headers()
            services = app.state.services
            for cam, truth in (("sim-park", park), ("sim-deliver", deliver)):
                zones = pipeline.zones_of(TruthReplay.load(truth), THRESHOLD_S)
                await services.zones.save(CameraZones(camera=cam, zones=zones), base_version=0, by="test")
            server.start()
            started = time.monotonic()
            # the car stops at about 5 s and leaves at about 23 s of the file's 30; the truck stands about 6 s
            seen = None  # what the live overlay reads, while the car stands (from about 5 s to 23 s)
            while time.monotonic() - started < 34:
                await asyncio.sleep(1.0)
                if seen is None and time.monotonic() - started > 15:
                    seen = (await client.get("/api/cameras/sim-park/tracks", headers=headers)).json()
            events = await _events(client, headers)
            if not events:
                health = (await client.get("/api/health", headers=headers)).json()
                pytest.fail(f"no event; analytics: {[health['cameras'][c].get('analytics') for c in ('sim-park', 'sim-deliver')]}")
            assert [e["camera"] for e in events] == ["sim-park"], events
            event = events[0]
            assert event["zone"] == "no_parking" and event["detail"]["class"] == "car"
            assert event["detail"]["dwell_s"] == pytest.approx(THRESHOLD_S, abs=0.5)
            due = TruthReplay.load(park).doc["events"][0]["start_s"] + THRESHOLD_S
            assert abs(event["stream_time"] - due) <= 2.0, (event["stream_time"], due)
            await _check_evidence(app, client, headers, event)  # gathered and published on the server's loop
            assert threads == {"analytics-loop"}
            health = (await client.get("/api/health", headers=headers)).json()
            detection = health["cameras"]["sim-park"]["analytics"]["detection"]
            assert detection["detector"] == "truth" and detection["detected"] > 20 and detection["errors"] == 0
            metrics = (await client.get("/metrics", headers=headers)).text
            assert 'bconnect_detector_seconds_count{camera="sim-park"}' in metrics
            # the overlay's boxes: the standing car with its track id, its box in the zone, as fractions
            assert seen["detector"] == "truth" and seen["detect_ms"] is not None and seen["age_s"] < 2, seen
            standing = [t for t in seen["tracks"] if t["label"] == "car" and t["stationary_s"] >= 5]
            assert len(standing) == 1, seen
            x1, y1, x2, y2 = standing[0]["box"]
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
            zone = pipeline.zones_of(TruthReplay.load(park))[0]
            assert zone.contains((x1 + x2) / 2, y2), (standing, zone.points)
            assert (await client.get("/api/cameras/nope/tracks", headers=headers)).status_code == 404
    finally:
        server.stop()


async def test_the_default_detector_finds_vtests_parked_vehicles_in_their_zone(vtest_h264, make_deployment):
    server = RtspServer(mounts={}, files={"vtest": str(vtest_h264)}).start()
    try:
        cfg = load_file(make_deployment(_camera("vtest", server.url("vtest")) + f"""
            [plugins.vision_onnx]
            providers = ["cpu"]

            [plugins.parking_rule]
            fps = 2
            dwell_s = 4
            {ALL_DAY}
            """).path)
        app = create_app(cfg, host=load_plugins(cfg))
        async with running(app) as client:
            headers = await bearer_headers()
            zone = {"id": "kerb", "name": "Kerb", "kind": "no_parking", "points": VTEST_ZONE}
            await app.state.services.zones.save(
                CameraZones.model_validate({"camera": "vtest", "zones": [zone]}), base_version=0, by="test"
            )
            deadline = time.monotonic() + 60
            while not (events := await _events(client, headers)):
                assert time.monotonic() < deadline, "no parking event on vtest within 60 s"
                await asyncio.sleep(1.0)
            assert all(e["camera"] == "vtest" and e["zone"] == "kerb" for e in events)
            assert events[0]["detail"]["class"] in ("car", "truck", "bus")
            assert events[0]["snapshot"] is not None
    finally:
        server.stop()


def test_analyze_prints_the_parking_rules_events(vtest_h264, tmp_path):
    from core.testing.deployment import deployment_toml

    config = tmp_path / "deployment.toml"
    config.write_text(deployment_toml(tmp_path / "data") + f"""
[plugins.vision_onnx]
providers = ["cpu"]

[plugins.parking_rule]
dwell_s = 3
{ALL_DAY}
""")
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps({"format": "bconnect.zones", "version": 1, "camera": "plaza", "zones": [
        {"id": "kerb", "name": "Kerb", "kind": "no_parking", "points": [list(p) for p in VTEST_ZONE]}]}))
    result = bconnect("analyze", str(VTEST), "--config", str(config), "--json", "--zones", str(zones),
                      "--duration", "8", timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    events = [r for r in records if r["type"] == "event"]
    assert events and all(e["kind"] == "parking.violation" and e["zone"] == "kerb" for e in events)
    assert all(e["clip"] is None for e in events)  # a file has no live video to cut clips from
    summary = records[-1]
    assert summary["type"] == "summary" and summary["events"] == len(events) and summary["analyzers_run"]
