"""The parking rule on the simulator's ground truth: truth -> detections -> real tracker -> rule, and its score.

Shared by ``tests/test_parking_truth.py`` and ``bench/parking_eval.py``. The
truth file's zones become the camera's zones (pixels to fractions); the truth's
``no_parking_stop`` events, as long as the threshold or longer, are the
violations that must fire, once per loop, at the stop's start plus the
threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.analytics.tracker import Tracker
from core.analytics.zones import Zone
from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import FrameInfo, ParkingRule, Violation
from plugins.truth_detector.replay import TruthReplay

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 16, 0, tzinfo=WITA)  # inside the Balikpapan window
STOP_EVENTS = {"no_parking_stop"}  # truth event types that are a vehicle standing in a zone
VEHICLES = {"car", "truck", "bus", "motorcycle"}


def zones_of(replay: TruthReplay, dwell_s: float | None = None) -> tuple[Zone, ...]:
    return tuple(
        Zone.model_validate({
            "id": z["id"], "name": z["id"], "kind": z["kind"], "dwell_s": dwell_s,
            "points": [(min(max(x / replay.width, 0.0), 1.0), min(max(y / replay.height, 0.0), 1.0)) for x, y in z["polygon"]],
        })
        for z in replay.doc["zones"]
    )


@dataclass
class Run:
    scenario: str
    threshold_s: float
    violations: list[Violation] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)  # stream seconds each violation is due
    longest_stand_s: float = 0.0  # the longest any vehicle stood still (in a zone or not)


def run(
    truth: Path | str,
    threshold_s: float,
    *,
    loops: int = 2,
    fps: float = 5.0,
    config: Config | None = None,
    detect: Callable[[int, float], list] | None = None,
) -> Run:
    """``detect(i, t)``: the detections of analysed frame ``i`` at stream time ``t``; default: the truth's."""
    replay = TruthReplay.load(truth)
    config = config or Config(windows=[{"start": "00:00", "end": "24:00"}])
    zones = zones_of(replay, threshold_s)
    rule = ParkingRule(config, "Asia/Makassar")
    tracker = Tracker()
    out = Run(replay.doc["scenario"], threshold_s)
    frames = int(loops * replay.loop_seconds * fps)
    for i in range(frames):
        t = i / fps
        tracks = tracker.update(replay.at(t) if detect is None else detect(i, t), t)
        for tr in tracks:
            if tr.label in VEHICLES:
                out.longest_stand_s = max(out.longest_stand_s, tr.stationary_s)
        frame = FrameInfo("sim", None, t, START + timedelta(seconds=t), replay.width, replay.height, ref=i)
        out.violations += rule.update(frame, tracks, zones)
    for loop in range(loops):
        for ev in replay.doc["events"]:
            due = loop * replay.loop_seconds + ev["start_s"] + threshold_s
            if ev["type"] in STOP_EVENTS and ev["end_s"] - ev["start_s"] >= threshold_s and due < frames / fps:
                out.expected.append(due)
    return out


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    delays_s: tuple[float, ...]  # alert minus due time, per true positive

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        due = self.true_positives + self.false_negatives
        return self.true_positives / due if due else 1.0


def score(result: Run, tolerance_s: float = 3.0) -> Score:
    """Each due violation matched to at most one alert within ``tolerance_s``; the rest are misses or false alerts."""
    left = sorted(v.stream_time for v in result.violations)
    delays = []
    for due in result.expected:
        near = [t for t in left if abs(t - due) <= tolerance_s]
        if near:
            hit = min(near, key=lambda t: abs(t - due))
            left.remove(hit)
            delays.append(hit - due)
    tp = len(delays)
    return Score(tp, len(left), len(result.expected) - tp, tuple(delays))
