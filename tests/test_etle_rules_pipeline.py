"""The ETLE rules end to end: a simulated junction's H.264 over real RTSP -> frame hub -> detector -> tracker ->
etle_rules (the light read from the signal head's colour in the decoded pictures) -> events with snapshot and
evidence clip -> violations.

The simulator's ``red_light`` loop (480x270, 5 fps, 30 s; a car waits at the red, another runs it) is
rendered into the shared render cache (tests/_generated/sim, as test_etle_truth.py) and served as it is by
GStreamer's RTSP server to two cameras: one in an area under enforcement (beruang_madu), one in an area still in
education (beller). The truth detector replays the truth; the zones (stop-line strip, lanes) are the
simulator's, saved in the zone store; the signal head's box is config. Exactly one red-light event per camera,
for the runner; the education camera's is a warning, never a ticket.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support import etle_pipeline as pipeline
from support.appclient import bearer_headers, running

from core.analytics.zones import CameraZones
from core.app import create_app
from core.config import load_file
from core.plugin_host import load_plugins
from core.testing.rtsp import RtspServer
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.replay import TruthReplay

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(180)]

SIM = Path(__file__).resolve().parent / "_generated" / "sim"
CAMERAS = {"etle-bm": "beruang_madu", "etle-beller": "beller"}
LAW = """
[enforcement.laws."red_light.violation"]
law = "UU No. 22 Tahun 2009"
pasal = "287"
ayat = "2"
max_fine = 500000
max_jail = "2 bulan"
"""


@pytest.fixture(scope="module")
def junction():
    return cache.render(RenderSpec("red_light", 101, width=480, height=270, fps=5, loop_seconds=30), SIM).truth


def _camera(cam_id: str, url: str, area: str) -> str:
    return f'[[plugins.stream_url.cameras]]\nid = "{cam_id}"\nname = "{cam_id}"\nurl = "{url}"\n' \
           f'agency = "polri"\narea = "{area}"\n'


async def test_the_red_light_runner_gives_one_event_per_camera_with_evidence_and_education_only_warns(
    junction, make_deployment
):
    replay = TruthReplay.load(junction)
    box = pipeline.fixtures_of(replay)["signals"][0]["box"]
    video = junction.with_name(replay.doc["video"])
    server = RtspServer(mounts={}, files={cam: str(video) for cam in CAMERAS})
    signals = "\n".join(f'[[plugins.etle_rules.signals]]\ncamera = "{cam}"\nbox = {list(box)}\n' for cam in CAMERAS)
    try:
        cfg = load_file(make_deployment(
            "".join(_camera(cam, server.url(cam), area) for cam, area in CAMERAS.items()) + LAW + f"""
            [plugins.truth_detector]
            sim_dir = "{junction.parent}"

            [plugins.etle_rules]
            fps = 5
            """ + signals).path)
        app = create_app(cfg, host=load_plugins(cfg))
        async with running(app) as client:
            headers = await bearer_headers()
            for cam in CAMERAS:
                zones = pipeline.zones_of(replay)
                await app.state.services.zones.save(CameraZones(camera=cam, zones=zones), base_version=0, by="test")
            server.start()
            started = time.monotonic()
            # the runner crosses at about 10.8 s of the file's 30; the waiter crosses on green at about 19 s
            while time.monotonic() - started < 22:
                await asyncio.sleep(1.0)
            response = await client.get("/api/events?kind=red_light.violation", headers=headers)
            assert response.status_code == 200, response.text
            events = response.json()["events"]
            if not events:
                health = (await client.get("/api/health", headers=headers)).json()
                pytest.fail(f"no event; analytics: {[health['cameras'][c].get('analytics') for c in CAMERAS]}")
            assert sorted(e["camera"] for e in events) == sorted(CAMERAS), events
            due = replay.doc["events"][0]["start_s"]
            for event in events:
                assert event["zone"] == "stop_line" and event["detail"]["offence"] == "red_light", event
                assert event["detail"]["light"] == "red" and event["detail"]["class"] == "car"
                assert event["detail"]["legal_basis"]["article"] == "Pasal 287 ayat (2)"
                assert abs(event["stream_time"] - due) <= 2.0, (event["stream_time"], due)
                assert event["detail"]["plate_crop"] and event["detail"]["snapshot_frame"]["box"]
                assert event["snapshot"] is not None and event["clip"] is not None, event
                snap = await client.get(f"/api/events/{event['id']}/snapshot", headers=headers)
                assert snap.status_code == 200 and snap.content.startswith(b"\xff\xd8")
                clip = (await client.get(f"/api/clips/{event['clip']}", headers=headers)).json()
                assert clip["status"] == "ready" and clip["duration_s"] > 2, clip
            modes = {e["camera"]: e["mode"] for e in events}
            assert modes == {"etle-bm": "enforcement", "etle-beller": "education"}

            # the violation workflow: the education camera's is a warning; verified, it stays one (no ladder, no ticket)
            deadline = time.monotonic() + 10
            while True:
                listed = (await client.get("/api/violations", headers=headers)).json()["violations"]
                if len(listed) == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            by_camera = {v["camera"]: v for v in listed}
            assert {c: v["mode"] for c, v in by_camera.items()} == modes, listed
            officer = await bearer_headers("sari", "officer", "polri")
            warned = by_camera["etle-beller"]
            r = await client.patch(f"/api/violations/{warned['id']}/plate", json={"plate": "KT 1234 AB", "note": "read from the clip"},
                                   headers=officer)
            assert r.status_code == 200, r.text
            r = await client.post(f"/api/violations/{warned['id']}/verify", json={"officer_name": "Bripka Sari"}, headers=officer)
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "warned" and r.json()["ladder_step"] is None
            health = (await client.get("/api/health", headers=headers)).json()
            detection = health["cameras"]["etle-bm"]["analytics"]["detection"]
            assert detection["detector"] == "truth" and detection["errors"] == 0
    finally:
        server.stop()
