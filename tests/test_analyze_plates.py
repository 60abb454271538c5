"""``bconnect analyze`` reads plates: an analyzer's event carries the plate the deployment's reader read.

The simulator renders ``no_parking_stop`` at 960x540 (a car with a known TNKB plate stays in the
no-parking zone); ``bconnect analyze`` runs the truth detector (the one stand-in: it replays the
simulator's boxes, so the test is about plates, not about the vehicle detector), the tracker, the
parking rule and the real ``plate_reader`` (PP-OCR on the CPU) over the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import parking_pipeline as pipeline

from core.analytics.zone_file import export_zones
from core.analytics.zones import CameraZones
from core.testing.deployment import deployment_toml
from core.testing.pytest_plugin import bconnect
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.replay import TruthReplay

pytest.importorskip("rapidocr_onnxruntime")
pytestmark = pytest.mark.timeout(300)

THRESHOLD_S = 8.0
SIM = Path(__file__).resolve().parent / "_generated" / "sim"  # the shared render cache


def test_a_parking_event_from_a_file_carries_the_plate_read(tmp_path):
    truth_file = cache.render(RenderSpec("no_parking_stop", 101, width=960, height=540, fps=5, loop_seconds=20),
                              SIM).truth
    replay = TruthReplay.load(truth_file)
    plate = next(o["plate"] for o in replay.doc["objects"] if o["id"] == "parker")
    zones = tmp_path / "zones.json"
    zones.write_text(export_zones(CameraZones(camera="street", zones=pipeline.zones_of(replay, THRESHOLD_S))))
    config = tmp_path / "deployment.toml"
    config.write_text(deployment_toml(tmp_path / "data") + f"""
[plugins.truth_detector]
truth_files = ["{truth_file.as_posix()}"]

[plugins.parking_rule]
windows = [{{ start = "00:00", end = "24:00" }}]

[plugins.plate_reader]
""")
    video = truth_file.with_name(replay.doc["video"])
    r = bconnect("analyze", str(video), "--config", str(config), "--zones", str(zones), "--json", timeout=280)
    assert r.returncode == 0, r.stderr
    events = [rec for rec in map(json.loads, r.stdout.splitlines()) if rec["type"] == "event"]
    parking = [e for e in events if e["kind"] == "parking.violation"]
    assert len(parking) == 1, events
    detail = parking[0]["detail"]
    assert detail["plate"] == plate and detail["plate_confidence"] >= 0.8, detail
    assert detail["plate_read"]["valid"] and detail["plate_read"]["votes"] >= 2, detail["plate_read"]
