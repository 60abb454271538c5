"""Crime watch on the simulator's ground truth: truth -> detections -> real tracker -> rule, and its score.

Shared by ``tests/test_crime_watch_truth.py`` (and the evaluation bench may use
the same table). The truth file's zones become the camera's zones (pixels to
fractions); each truth event that crime watch reports must give one alert of
its kind, once per loop, near its due time:

| truth event | event kind | due | tolerance |
|---|---|---|---|
| ``loiter`` | ``crime.loitering`` | start + ``loiter_s`` (if the stay is that long) | 3 s |
| ``crowd`` | ``crime.crowd`` | start + ``crowd_s`` | 8 s |
| ``running`` | ``crime.running`` | start | 3 s |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from support.parking_pipeline import zones_of

from core.analytics.tracker import Tracker
from plugins.crime_watch.config import Config
from plugins.crime_watch.rule import CrimeRule, FrameInfo
from plugins.truth_detector.replay import TruthReplay

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 23, 0, tzinfo=WITA)  # at night: inside the default loitering hours
# truth event type -> (event kind, the config key of its delay after the truth's start, tolerance s)
MATCH: dict[str, tuple[str, str | None, float]] = {
    "loiter": ("crime.loitering", "loiter_s", 3.0),
    "crowd": ("crime.crowd", "crowd_s", 8.0),
    "running": ("crime.running", None, 3.0),
}


def test_config(**kw) -> Config:
    """The simulator's loops are 30 s: thresholds a real deployment would not use (as deploy/demo.toml)."""
    return Config(**{"loiter_s": 20.0, "loiter_windows": [], "crowd_s": 3.0, "crowd_clear_s": 3.0, **kw})


@dataclass
class Run:
    scenario: str
    alerts: list = field(default_factory=list)  # crime_watch.rule.Alert
    expected: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, due stream s, tolerance)


def run(truth: Path | str, config: Config | None = None, *, loops: int = 2, fps: float = 5.0,
        detect: Callable[[int, float], list] | None = None) -> Run:
    """``detect(i, t)``: the detections of analysed frame ``i`` at stream time ``t``; default: the truth's."""
    replay = TruthReplay.load(truth)
    config = config or test_config()
    zones = zones_of(replay)
    rule = CrimeRule(config, "Asia/Makassar")
    tracker = Tracker()
    out = Run(replay.doc["scenario"])
    frames = int(loops * replay.loop_seconds * fps)
    for i in range(frames):
        t = i / fps
        tracks = tracker.update(replay.at(t) if detect is None else detect(i, t), t)
        frame = FrameInfo("sim", None, t, START + timedelta(seconds=t), replay.width, replay.height)
        out.alerts += rule.update(frame, tracks, zones)
    for loop in range(loops):
        for ev in replay.doc["events"]:
            if ev["type"] not in MATCH:
                continue
            kind, delay_key, tolerance = MATCH[ev["type"]]
            delay = getattr(config, delay_key) if delay_key else 0.0
            due = loop * replay.loop_seconds + ev["start_s"] + delay
            if ev["end_s"] - ev["start_s"] >= delay and due < frames / fps:
                out.expected.append((kind, due, tolerance))
    return out


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    delays_s: tuple[float, ...]  # alert minus due time, per true positive


def score(result: Run) -> Score:
    """Each due alert matched to at most one alert of its kind within its tolerance; the rest are misses or false alerts."""
    left = sorted(((a.kind, a.stream_time) for a in result.alerts), key=lambda x: x[1])
    delays = []
    for kind, due, tolerance in result.expected:
        near = [x for x in left if x[0] == kind and abs(x[1] - due) <= tolerance]
        if near:
            hit = min(near, key=lambda x: abs(x[1] - due))
            left.remove(hit)
            delays.append(round(hit[1] - due, 2))
    tp = len(delays)
    return Score(tp, len(left), len(result.expected) - tp, tuple(delays))
