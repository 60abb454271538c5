"""The parking rule on the simulator's ground truth, through the real tracker: exactly the truth's violations.

Each scenario is rendered once, small (480x270, 5 fps, 30 s loop), by the
simulator itself; its truth file is replayed by the truth detector
(``plugins/truth_detector``) as detections, tracked by ``core.analytics.tracker``
and judged by the rule, over two loops. The threshold is 10 s (the simulator's
car stands about 19 s of a 30 s loop), set on the zone as a deployment would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import av
import pytest

from core.analytics.tracker import Tracker
from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import FrameInfo, ParkingRule
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.detector import TruthDetector
from plugins.truth_detector.replay import TruthReplay
from support import parking_pipeline as pipeline

THRESHOLD_S = 10.0


@pytest.fixture(scope="module")
def truths(tmp_path_factory):
    sim = tmp_path_factory.mktemp("sim")
    return {
        name: cache.render(RenderSpec(name, 101, width=480, height=270, fps=5, loop_seconds=30), sim).truth
        for name in ("no_parking_stop", "delivery_stop", "queue")
    }


def test_the_parked_car_gives_exactly_one_violation_per_loop_on_time(truths):
    result = pipeline.run(truths["no_parking_stop"], THRESHOLD_S)
    assert len(result.expected) == 2  # one stay per loop: it drives off and comes back
    got = pipeline.score(result)
    assert (got.true_positives, got.false_positives, got.false_negatives) == (2, 0, 0)
    # the tracker calls a car still once it moves less than a fifth of its size: the last metre of braking
    # (the truth's stop) comes about a second after that
    assert all(-1.5 <= d <= 1.5 for d in got.delays_s), got.delays_s
    for v in result.violations:
        assert v.zone_id == "no_parking" and v.label == "car" and v.dwell_s == pytest.approx(THRESHOLD_S, abs=0.3)
        assert v.arrived_stream < v.stream_time - THRESHOLD_S  # the clip starts with the car driving in
    assert result.violations[0].track_id != result.violations[1].track_id


def test_a_longer_threshold_than_the_stay_fires_nothing(truths):
    result = pipeline.run(truths["no_parking_stop"], 25.0)
    assert result.expected == [] and result.violations == []


def test_a_delivery_stop_shorter_than_the_threshold_fires_nothing(truths):
    result = pipeline.run(truths["delivery_stop"], THRESHOLD_S)
    assert result.expected == [] and result.violations == []
    assert 4.0 <= result.longest_stand_s < THRESHOLD_S  # the truck did stop, in the zone, but not long enough


def test_cars_queueing_in_the_lane_beside_the_zone_fire_nothing(truths):
    result = pipeline.run(truths["queue"], THRESHOLD_S)
    assert result.expected == [] and result.violations == []
    assert result.longest_stand_s > THRESHOLD_S  # they stood longer than the threshold: only the zone excuses them


def test_the_same_through_decoded_h264_frames_and_the_detector_contract(truths):
    """The video's decoded frames go through the truth detector's ``detect`` (bare pictures, as the hub gives them)."""
    truth = truths["no_parking_stop"]
    replay = TruthReplay.load(truth)
    detector = TruthDetector([truth])
    detector.start()
    with av.open(str(truth.with_name(replay.doc["video"]))) as container:
        pictures = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    rule = ParkingRule(Config(windows=[{"start": "00:00", "end": "24:00"}]), "Asia/Makassar")
    tracker, zones, found = Tracker(), pipeline.zones_of(replay, THRESHOLD_S), []
    for i in range(2 * len(pictures)):  # the camera loops the file
        t = i / replay.fps
        (detections,) = asyncio.run(detector.detect([pictures[i % len(pictures)]]))
        frame = FrameInfo("sim", None, t, pipeline.START + timedelta(seconds=t), replay.width, replay.height, ref=i)
        found += rule.update(frame, tracker.update(detections, t), zones)
    due = [ev["start_s"] + THRESHOLD_S + k * replay.loop_seconds for k in (0, 1) for ev in replay.doc["events"]]
    assert len(found) == 2
    assert all(abs(v.stream_time - d) <= 1.5 for v, d in zip(found, due)), [(v.stream_time, d) for v, d in zip(found, due)]
