"""Crime watch on the simulator's ground truth, through the real tracker: exactly the truth's alerts.

Each scenario is rendered once, small (480x270, 5 fps, 30 s loop), by the
simulator itself, into ``tests/_generated/sim`` (a render cache keyed by the
script: the second run renders nothing); its truth file is replayed by the
truth detector's replay as detections, tracked by ``core.analytics.tracker``
and judged by the rule, over two loops, with the zones the truth file holds.
Thresholds suit the 30 s loops (loitering 20 s, crowd 3 s; ``support.crime_pipeline``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import crime_pipeline as pipeline

from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec

SIM = Path(__file__).resolve().parent / "_generated" / "sim"
SCENES = ("loiter_night", "crowd", "running", "free_flow", "crossing_wait")


@pytest.fixture(scope="module")
def truths():
    return {name: cache.render(RenderSpec(name, 101, width=480, height=270, fps=5, loop_seconds=30), SIM).truth
            for name in SCENES}


@pytest.mark.parametrize("scenario, kind", [
    ("loiter_night", "crime.loitering"), ("crowd", "crime.crowd"), ("running", "crime.running"),
])
def test_each_scenario_gives_exactly_its_alert_once_per_loop(truths, scenario, kind):
    result = pipeline.run(truths[scenario])
    assert [k for k, _, _ in result.expected] == [kind, kind]  # one per loop
    got = pipeline.score(result)
    assert (got.true_positives, got.false_positives, got.false_negatives) == (2, 0, 0), (
        [(a.kind, a.stream_time) for a in result.alerts], result.expected)
    assert len({a.track_ids for a in result.alerts}) == 2  # the second loop's people are new tracks


def test_the_crowd_is_not_also_reported_as_loiterers(truths):
    # twelve people stand longer than the loitering threshold: they are one crowd, not twelve loiterers
    result = pipeline.run(truths["crowd"], loops=1)
    assert [a.kind for a in result.alerts] == ["crime.crowd"]


@pytest.mark.parametrize("scenario", ["free_flow", "crossing_wait"])
def test_hard_negatives_give_nothing(truths, scenario):
    result = pipeline.run(truths[scenario])
    assert result.expected == [] and result.alerts == [], [(a.kind, a.stream_time, a.facts) for a in result.alerts]


def test_people_walking_off_together_at_the_crossing_are_not_running(truths):
    """The hard negative is real: people stand, then start off together, at a walk, under the running speed.

    At 480x270 the five, 13 px tall and overlapping at 66 m, make two or three tracks; a threshold at a
    slow walk, two runners enough, calls their start a run.
    """
    loose = pipeline.test_config(run_speed=0.6, calm_speed=0.3, min_runners=2)
    result = pipeline.run(truths["crossing_wait"], loose, loops=1)
    assert "crime.running" in [a.kind for a in result.alerts]


def test_the_bench_runs_in_a_tiny_smoke_mode(truths):
    """``bench/crime_eval.py`` end to end on one cached scenario, truth detector only; its JSON line checked."""
    bench = Path(__file__).resolve().parent.parent / "bench" / "crime_eval.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--size", "480x270", "--detectors", "truth", "--scenarios", "running",
         "--loops", "1", "--sim-dir", str(SIM)], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout.splitlines()[-1])["rows"]
    assert (row["scenario"], row["due"], row["tp"], row["fp"], row["fn"]) == ("running", 1, 1, 0, 0)
