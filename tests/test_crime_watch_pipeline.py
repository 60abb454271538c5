"""Crime watch end to end: a camera's H.264 over real RTSP -> frame hub -> detector -> tracker -> crime watch ->
a published alert with its snapshot and evidence clip.

The simulator's ``loiter_night`` loop (480x270, 5 fps, 30 s), rendered by the simulator itself and served as it
is by a real RTSP server, stands for a camera in Beller, an area still in education mode. The truth detector
replays the simulator's truth; the watched area is the simulator's own, saved in the zone store; loitering is
set to 6 s so that the test is short. One loitering alert arrives, with a snapshot and a clip, marked
education, and never becomes a violation (a ticket). What is stored of the person is the tracker's box and
the whole-frame snapshot: no crop, no other picture.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from support import parking_pipeline
from support.appclient import bearer_headers, running
from support.violations import ENFORCEMENT

from core.analytics.zones import CameraZones
from core.app import create_app
from core.config import load_file
from core.plugin_host import load_plugins
from core.testing.rtsp import RtspServer
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.replay import TruthReplay

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(120)]

SIM = Path(__file__).resolve().parent / "_generated" / "sim"
LOITER_S = 6.0
IMAGES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@pytest.fixture(scope="module")
def loiter(tmp_path_factory):
    # the render cache test_crime_watch_truth.py shares: a second run renders nothing
    rendered = cache.render(RenderSpec("loiter_night", 101, width=480, height=270, fps=5, loop_seconds=30), SIM)
    only = tmp_path_factory.mktemp("sim")  # the truth detector reads every truth file of its folder: just this one
    return Path(shutil.copy(rendered.truth, only)), Path(shutil.copy(rendered.video, only))


async def test_a_loiterer_on_an_education_camera_gives_one_alert_with_snapshot_and_clip_and_no_ticket(loiter, make_deployment):
    truth, video = loiter
    server = RtspServer(mounts={}, files={"loiter": str(video)})
    try:
        dep = make_deployment(f"""
            [[plugins.stream_url.cameras]]
            id = "sim-loiter"
            name = "sim-loiter"
            url = "{server.url("loiter")}"
            agency = "polri"
            area = "beller"

            [plugins.truth_detector]
            sim_dir = "{truth.parent}"

            [plugins.crime_watch]
            loiter_s = {LOITER_S}
            loiter_windows = []
            """ + ENFORCEMENT)
        cfg = load_file(dep.path)
        app = create_app(cfg, host=load_plugins(cfg))
        async with running(app) as client:
            headers = await bearer_headers()
            zones = [z for z in parking_pipeline.zones_of(TruthReplay.load(truth)) if z.kind.value == "watched_area"]
            await app.state.services.zones.save(CameraZones(camera="sim-loiter", zones=zones), base_version=0, by="test")
            server.start()  # once the zones are saved: the file plays from its start to the analytics
            deadline = time.monotonic() + 40
            while not (events := (await client.get("/api/events?kind=crime.loitering", headers=headers)).json()["events"]):
                if time.monotonic() > deadline:
                    health = (await client.get("/api/health", headers=headers)).json()
                    pytest.fail(f"no loitering alert; analytics: {health['cameras']['sim-loiter'].get('analytics')}")
                await asyncio.sleep(0.5)
            await asyncio.sleep(2.0)  # nothing else comes: one alert per stay
            events = (await client.get("/api/events?kind=crime.loitering", headers=headers)).json()["events"]
            assert len(events) == 1, events
            event = events[0]
            assert event["camera"] == "sim-loiter" and event["zone"] == "watched" and event["priority"] == "normal"
            # the loiterer steps out of the doorway at the start of the file; the live path (RTSP start, the
            # hub's first frames, the tracker's confirmation) adds a few seconds
            assert LOITER_S <= event["stream_time"] <= LOITER_S + 8.0, event
            assert event["detail"]["dwell_s"] == pytest.approx(LOITER_S, abs=0.5) and event["detail"]["people"] == 1
            # education: a warning, marked so, never sent on as a violation
            assert event["mode"] == "education" and event["area"] == "beller"
            assert (await client.get("/api/violations", headers=headers)).json()["violations"] == []
            # the evidence
            snap = await client.get(f"/api/events/{event['id']}/snapshot", headers=headers)
            assert snap.status_code == 200 and snap.content.startswith(b"\xff\xd8")
            assert event["clip"] is not None
            deadline = time.monotonic() + 20
            while (clip := (await client.get(f"/api/clips/{event['clip']}", headers=headers)).json())["status"] != "ready":
                assert time.monotonic() < deadline and clip["status"] != "failed", clip
                await asyncio.sleep(0.5)
            assert clip["duration_s"] > 4, clip  # reaches back to when the loiterer came, plus 2 s after
            # no biometric data: the detail holds numbers and boxes, the only picture is the whole-frame snapshot
            detail = event["detail"]
            assert set(detail) == {"dwell_s", "threshold_s", "zone_kind", "people", "tracks", "boxes", "since_s"}
            assert all(isinstance(v, (int, float)) for box in detail["boxes"] for v in box)
            pictures = [p for p in dep.data_dir.rglob("*") if p.suffix.lower() in IMAGES]
            assert [p.name for p in pictures] == [f"{event['snapshot']['sha256']}.jpg"], pictures
            from PIL import Image

            with Image.open(pictures[0]) as picture:
                assert picture.size == (480, 270)  # the whole frame, not a crop of the person
            health = (await client.get("/api/health", headers=headers)).json()
            report = health["plugins"]["crime_watch"]["report"]
            assert report["crime.loitering"] == 1 and report["published"] == 1
    finally:
        server.stop()
