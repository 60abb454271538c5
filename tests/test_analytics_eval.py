"""``bench/analytics_eval.py`` runs end to end in its quick mode: one scenario, both detectors, vtest.avi.

A subprocess runs the bench as a user would (``--quick``: ``no_parking_stop`` at 320x180 over a 12 s
loop with a 5 s dwell, rendered into a temporary folder, then the first 8 s of vtest.avi); its final JSON line is
checked. Behaviour, not the default detector's figures: with the ground truth the parking rule must
be exact; the default detector's rows must be there; on vtest the parked van and car are found in
their no-parking zone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.default_model, pytest.mark.timeout(120)]


def test_quick_evaluation_prints_its_table_and_figures(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "analytics_eval.py"), "--quick", "--sim-dir", str(tmp_path / "sim")],
        capture_output=True, text=True, timeout=110, cwd=REPO, check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert any(line.startswith("detector") for line in lines[:-1])  # the table came first
    rules = {(r["detector"], r["rule"]): r for r in result["rules"]}
    truth = rules[("truth", "parking_rule")]
    assert truth["status"] == "ok" and truth["due"] == 1, truth
    assert truth["precision"] == 1.0 and truth["recall"] == 1.0 and abs(truth["tta_mean_s"]) <= 3, truth
    assert rules[("default", "parking_rule")]["due"] == 1  # scored, whatever it found
    scenario = [r for r in result["scenarios"] if r["scenario"] == "no_parking_stop"]
    assert {r["detector"] for r in scenario} == {"truth", "default"} and not any(r["negative"] for r in scenario)
    assert result["false_alerts_on_negatives"] == {"truth": 0, "default": 0}
    assert result["settings"]["table"]["no_parking_stop"]["kind"] == "parking.violation"
    vtest = result["vtest"]
    assert vtest is not None, "vtest.avi missing: scripts/setup.sh installs opencv-doc"
    assert vtest["events"].get("parking.violation", 0) >= 1, vtest  # the parked van and car, past the 5 s dwell


def _doc(foot_y: list[float]) -> dict:
    """A truth file of one person 40 px tall at x 500, whose feet are at ``foot_y[k]`` in frame k (5 fps)."""
    zone = {"id": "watched", "kind": "watched_area", "polygon": [[400, 300], [600, 300], [600, 400], [400, 400]]}
    frames = [{"i": k, "objects": [{"id": "p1", "bbox": [490, y - 40, 510, y]}]} for k, y in enumerate(foot_y)]
    return {"fps": 5, "zones": [zone], "objects": [{"id": "p1", "class": "person"}], "frames": frames}


@pytest.mark.parametrize("inside_from, justified", [(0, True), (20, False)])
def test_a_loitering_alert_on_someone_who_truly_stayed_in_the_zone_is_counted_apart(inside_from, justified):
    # at the evaluation's short threshold a crowd member who stands 25 s or a walker pacing on a watched sidewalk
    # meets the rule's definition although the scenario did not cast them as a loiterer: neither true nor false.
    # Someone who was in the zone for less than loiter_s is no excuse for the alert
    sys.path.insert(0, str(REPO / "bench"))
    from analytics_eval import loiterer_in_truth

    doc = _doc([250.0] * inside_from + [350.0] * (60 - inside_from))
    event = {"kind": "crime.loitering", "t": 11.0, "zone": "watched", "detail": {"boxes": [[491, 311, 511, 351]]}}
    assert loiterer_in_truth(doc, event, 10.0) is justified
    assert loiterer_in_truth(doc, {**event, "detail": {"boxes": [[300, 311, 320, 351]]}}, 10.0) is False  # nobody there


@pytest.mark.parametrize("visible, due", [(1.0, True), (0.1, False)])
def test_a_speeder_hidden_where_it_crosses_a_line_is_not_due(visible, due):
    # the simulator writes a speeding event from the world; on seeds 808 and 909 a truck alongside hid the
    # speeder as it crossed the second line, and no detector, not even the ground truth, could time it
    sys.path.insert(0, str(REPO / "bench"))
    from analytics_eval import unobservable

    frames = []
    for k in range(30):  # the speeder's wheels from y 500 up to y 210, 10 px a frame; lines at y 400 and 250
        y = 500.0 - 10.0 * k
        seen = visible if 240 <= y <= 260 else 1.0
        frames.append({"i": k, "objects": [{"id": "speeder", "bbox": [480, y - 60, 560, y], "visible": seen}]})
    doc = {"frames": frames, "calibration": {"lines": [[[300, 400], [800, 400]], [[300, 250], [800, 250]]]}}
    event = {"type": "speeding", "objects": ["speeder"], "start_frame": 10, "end_frame": 25}
    assert unobservable(doc, event) is not due
    assert unobservable(doc, {**event, "type": "red_light"}) is False  # only speeds are timed between lines


def test_an_alert_after_its_window_while_the_event_goes_on_is_a_miss_and_a_false_alert_counted_late():
    # 909's run: four runners from 15.0 to 21.6 s, due at 15.0 within 3 s; the alert came at 19.2 s. It stays a miss
    # and a false alert (the targets are on time), and the count says why
    sys.path.insert(0, str(REPO / "bench"))
    from analytics_eval import match

    run = (15.0, 12.0, 18.0, 21.6)
    assert match([run], [16.8]) == (1, [], 0, [pytest.approx(1.8)], 0)
    assert match([run], [19.2]) == (0, [19.2], 1, [], 1)
    assert match([run], [25.0]) == (0, [25.0], 1, [], 0)  # after the event: not late, only false
    assert match([run, (45.0, 42.0, 48.0, 51.6)], [19.2, 20.0]) == (0, [19.2, 20.0], 2, [], 1)  # one alert a miss
