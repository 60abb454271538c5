"""The parking rule on the simulator's ground truth, through the real tracker: exactly the truth's violations.

Each scenario is rendered once, small (480x270, 5 fps, 30 s loop), by the
simulator itself; its truth file is replayed by the truth detector
(``plugins/truth_detector``) as detections, tracked by ``core.analytics.tracker``
and judged by the rule, over two loops. The threshold is 10 s (the simulator's
car stands about 19 s of a 30 s loop), set on the zone as a deployment would.
"""

from __future__ import annotations

import pytest

from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
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
