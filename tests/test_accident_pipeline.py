"""The accident watch end to end: a simulated collision's H.264 over real RTSP -> frame hub -> detector ->
tracker -> accident watch -> a published high-priority alert with its snapshot, clip and live-view link.

Two simulated cameras, rendered by the simulator (480x270, 5 fps, one 30 s pass) and served as they are
by a real RTSP server (GStreamer's): ``collision`` (impact at 9.9 s) and the hard negative ``bus_stop``
(a bus stands 11 s at its stop). The truth detector replays the simulator's truth; the lanes and the bus
stop are saved in the zone store (tests/support/accident_pipeline.py). The collision camera is in an area
not yet switched to enforcement: its alert says ``mode: education`` and, not being a violation kind,
never becomes a violation either way.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from support import accident_pipeline as pipeline
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

SIM = Path(__file__).resolve().parent / "_generated" / "sim"  # shared with test_accident_truth.py


def _camera(cam_id: str, url: str, area: str) -> str:
    return f'[[plugins.stream_url.cameras]]\nid = "{cam_id}"\nname = "{cam_id}"\nurl = "{url}"\n' \
           f'agency = "dishub"\narea = "{area}"\n'


async def test_the_collision_is_alerted_within_5_s_with_its_evidence_and_the_bus_stop_is_not(make_deployment):
    truths = {n: cache.render(RenderSpec(n, 101, width=480, height=270, fps=5, loop_seconds=30), SIM).truth
              for n in ("collision", "bus_stop")}
    video = {n: str(t.with_name(TruthReplay.load(t).doc["video"])) for n, t in truths.items()}
    server = RtspServer(mounts={}, files={"crash": video["collision"], "bus": video["bus_stop"]})
    try:
        cfg = load_file(make_deployment(
            _camera("sim-crash", server.url("crash"), "beller") + _camera("sim-bus", server.url("bus"), "beruang_madu")
            + f"""
            [plugins.truth_detector]
            sim_dir = "{SIM}"

            [plugins.accident_watch]
            """).path)
        app = create_app(cfg, host=load_plugins(cfg))
        async with running(app) as client:
            headers = await bearer_headers()
            services = app.state.services
            for cam, name in (("sim-crash", "collision"), ("sim-bus", "bus_stop")):
                zones = pipeline.zones_of(TruthReplay.load(truths[name]))
                await services.zones.save(CameraZones(camera=cam, zones=zones), base_version=0, by="test")
            server.start()
            started = time.monotonic()
            events: list[dict] = []
            # the crash is due by 15 s of the file; the bus stands from 6.6 s to 18 s: watch past both
            while time.monotonic() - started < 34 and not (events and time.monotonic() - started > 21):
                await asyncio.sleep(1.0)
                events = (await client.get("/api/events?kind=accident.suspected", headers=headers)).json()["events"]
            assert [e["camera"] for e in events] == ["sim-crash"], events
            event = events[0]
            impact = TruthReplay.load(truths["collision"]).doc["events"][0]["start_s"]
            assert 0.0 <= event["stream_time"] - impact <= 5.0, (event["stream_time"], impact)
            assert event["priority"] == "high" and event["mode"] == "education" and event["zone"] == "lane_away"
            detail = event["detail"]
            assert detail["live_view"]["whep"] == "/api/cameras/sim-crash/whep" and detail["ptz_offer"] == []
            assert detail["parties"] and detail["parties"][0]["class"] == "car"
            assert event["snapshot"] is not None and event["clip"] is not None, event
            snap = await client.get(f"/api/events/{event['id']}/snapshot", headers=headers)
            assert snap.status_code == 200 and snap.content.startswith(b"\xff\xd8")
            clip = (await client.get(f"/api/clips/{event['clip']}", headers=headers)).json()
            assert clip["status"] == "ready" and clip["duration_s"] > 2, clip
            violations = await client.get("/api/violations", headers=headers)
            assert violations.status_code == 200 and violations.json()["violations"] == []  # an alert, never a ticket
    finally:
        server.stop()
