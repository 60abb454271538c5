"""The ETLE rules on the simulator's ground truth, through the real tracker: exactly the truth's offences.

Each scenario is rendered once, small (480x270, 30 s loop; 5 fps, speeding 10
fps: a car at 80 km/h needs it), by the simulator itself, into the render cache
under tests/_generated/sim (keyed by content, so later runs and
test_etle_rules_pipeline.py reuse it). Its truth is replayed by the truth detector as
detections, tracked by ``core.analytics.tracker`` and judged by the rules over
two loops, with the truth's zones, signal head and calibration as a deployment
would configure them. The light is the truth's lamp (as a signal input gives
it), and once read from the decoded H.264 pictures.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from support import etle_pipeline as pipeline

from plugins.etle_rules.signal import read_lamp
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.traffic_sim.scenarios import SCENARIOS
from plugins.truth_detector.replay import TruthReplay

SIM = Path(__file__).resolve().parent / "_generated" / "sim"
FPS = {"red_light": 5, "red_light_wait": 5, "wrong_way": 5, "speeding": 10}


def render(name: str) -> Path:
    return cache.render(RenderSpec(name, 101, width=480, height=270, fps=FPS[name], loop_seconds=30), SIM).truth


@pytest.fixture(scope="module")
def truths():
    return {name: render(name) for name in FPS}


def kinds(result: pipeline.Run) -> list[str]:
    return [o.kind for o in result.offences]


def test_the_car_running_the_red_gives_one_offence_per_loop_and_the_car_waiting_none(truths):
    result = pipeline.run(truths["red_light"])
    assert len(result.expected) == 2
    assert pipeline.score(result) == pipeline.Score(2, 0, 0), [(o.kind, o.stream_time) for o in result.offences]
    assert kinds(result) == ["red_light.violation"] * 2
    runner = {o["id"] for o in TruthReplay.load(truths["red_light"]).doc["objects"] if o.get("role") == "runner"}
    assert runner and all(o.zone_id == "stop_line" and o.facts["red_for_s"] > 1.0 for o in result.offences)
    assert result.offences[0].track_id != result.offences[1].track_id


def test_cars_waiting_at_the_red_and_going_on_green_fire_nothing(truths):
    result = pipeline.run(truths["red_light_wait"])
    assert result.expected == [] and result.offences == []


def test_the_car_against_the_lane_gives_one_wrong_way_offence_per_loop(truths):
    result = pipeline.run(truths["wrong_way"])
    assert pipeline.score(result) == pipeline.Score(2, 0, 0), [(o.kind, o.stream_time) for o in result.offences]
    assert all(o.zone_id == "lane_away" and o.offence == "wrong_way" for o in result.offences)


def test_the_speeder_is_measured_and_caught_the_rest_of_the_traffic_not(truths):
    result = pipeline.run(truths["speeding"], fps=10)
    assert pipeline.score(result) == pipeline.Score(2, 0, 0), [(o.kind, o.stream_time, o.facts) for o in result.offences]
    keys = next(a for a in SCENARIOS["speeding"].actors if a.name == "speeder").keys
    true_kmh = (keys[2].z - keys[1].z) / ((keys[2].at - keys[1].at) * 30) * 3.6  # 81.6 km/h
    for o in result.offences:
        assert o.facts["speed_kmh"] == pytest.approx(true_kmh, rel=0.06) and o.facts["limit_kmh"] == 60.0
    assert len(result.speeds) > 10  # the background traffic is measured too, under the limit
    assert all(m.kmh < 60.0 for m in result.speeds if m.track_id not in {o.track_id for o in result.offences})


def test_the_same_camera_uncalibrated_never_produces_a_speed(truths):
    result = pipeline.run(truths["speeding"], fps=10, calibrated=False, config={"speed": {"limit_kmh": 1}})
    assert result.offences == [] and result.speeds == []


def test_the_light_read_from_the_decoded_h264_pictures_gives_the_same(truths):
    truth = truths["red_light"]
    replay = TruthReplay.load(truth)
    with av.open(str(truth.with_name(replay.doc["video"]))) as container:
        pictures = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    box = pipeline.fixtures_of(replay)["signals"][0]["box"]
    readings = [read_lamp(p, box) for p in pictures]
    lamps = [f.get("signal") for f in replay.doc["frames"]]
    agree = sum(r == lamp for r, lamp in zip(readings, lamps))
    assert agree >= 0.97 * len(lamps), [(i, r, lamp) for i, (r, lamp) in enumerate(zip(readings, lamps)) if r != lamp]
    result = pipeline.run(truth, light=lambda i, t: readings[replay.index(t)])
    assert pipeline.score(result) == pipeline.Score(2, 0, 0)
