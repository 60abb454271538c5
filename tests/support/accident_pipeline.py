"""The accident watch on the simulator's ground truth: truth -> detections -> real tracker -> rule, and its score.

Shared by ``tests/test_accident_truth.py`` and the evaluation bench. The
simulator's truth names only its no-parking zone, so the zones the accident
watch needs are drawn here, in metres on the simulated street, and projected
into each loop's picture through the truth's own camera (``doc["camera"]``):
both carriageways are ``traffic_lane`` zones, and each scenario may add the
zones a deployment would draw there (:data:`SCENARIO_ZONES`: the bus stop's
``queue_area``, the ``stop_line`` strip before the stop line, the queue's
``queue_area``). The truth's ``collision`` and ``person_down`` events are the
accidents that must be reported, once per loop, within :data:`TOLERANCE_S`
after the event's start (the impact).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from core.analytics.tracker import Tracker
from core.analytics.zones import Zone
from plugins.accident_watch.config import Config
from plugins.accident_watch.rule import Accident, AccidentRule, FrameInfo
from plugins.traffic_sim.geometry import View
from plugins.truth_detector.replay import TruthReplay

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 16, 0, tzinfo=WITA)
ACCIDENT_EVENTS = {"collision", "person_down"}  # truth event types that are a suspected accident
TOLERANCE_S = 5.0  # the alert is due within this long after the impact

# (id, kind, x0, z0, x1, z1, direction as (x, z) -> (x, z) in metres, or None)
Rect = tuple[str, str, float, float, float, float, tuple[tuple[float, float], tuple[float, float]] | None]
LANES: tuple[Rect, ...] = (
    ("lane_away", "traffic_lane", -7.0, 2.0, 0.0, 90.0, ((-3.5, 20.0), (-3.5, 40.0))),
    ("lane_toward", "traffic_lane", 0.0, 2.0, 7.0, 90.0, ((3.5, 40.0), (3.5, 20.0))),
)
SCENARIO_ZONES: dict[str, tuple[Rect, ...]] = {
    "bus_stop": (("bus_stop", "queue_area", -7.0, 18.0, -3.5, 40.0, None),),
    "stop_line_stop": (("stop_line", "stop_line", -7.0, 50.0, 0.0, 63.5, None),),
    "queue": (("queue", "queue_area", -7.0, 8.0, -3.5, 40.0, None),),
}


def zones_of(replay: TruthReplay) -> tuple[Zone, ...]:
    """The lanes, and the scenario's own zones, in fractions of this loop's picture."""
    cam = replay.doc["camera"]
    view = View(
        replay.width, replay.height, fov_deg=cam["fov_deg"], x=cam["x_m"], height_m=cam["height_m"],
        pitch_deg=cam["pitch_deg"], yaw_deg=cam["yaw_deg"],
    )
    out = []
    for zid, kind, x0, z0, x1, z1, way in (*LANES, *SCENARIO_ZONES.get(replay.doc["scenario"], ())):
        poly = view.polygon(np.array([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)]))
        if poly is None:
            continue
        points = _clip([(u / replay.width, v / replay.height) for u, v in poly])
        if len(points) < 3:
            continue
        zone = {"id": zid, "name": zid, "kind": kind, "points": points}
        if way is not None:
            (a, b) = view.project(np.array([(way[0][0], 0.0, way[0][1]), (way[1][0], 0.0, way[1][1])]))[0]
            zone["direction"] = ((b[0] - a[0]) / replay.width, (b[1] - a[1]) / replay.height)
        out.append(Zone.model_validate(zone))
    return tuple(out)


def _clip(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The polygon cut to the picture (Sutherland-Hodgman against 0..1 each way), no point repeated."""
    for axis, keep in ((0, lambda v: v >= 0.0), (0, lambda v: v <= 1.0), (1, lambda v: v >= 0.0), (1, lambda v: v <= 1.0)):
        edge = 0.0 if keep(-1.0) is False and keep(0.0) else 1.0
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(points):
            prev = points[i - 1]
            if keep(cur[axis]) != keep(prev[axis]):
                k = (edge - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + k * (cur[0] - prev[0]), prev[1] + k * (cur[1] - prev[1])))
            if keep(cur[axis]):
                out.append(cur)
        points = out
        if not points:
            return []
    unique: list[tuple[float, float]] = []
    for p in points:
        p = (round(min(max(p[0], 0.0), 1.0), 5), round(min(max(p[1], 0.0), 1.0), 5))
        if not unique or p != unique[-1]:
            unique.append(p)
    while len(unique) > 1 and unique[0] == unique[-1]:
        unique.pop()
    return unique


@dataclass
class Run:
    scenario: str
    accidents: list[Accident] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)  # stream seconds of each impact


def run(truth: Path | str, *, loops: int = 2, fps: float = 5.0, config: Config | None = None) -> Run:
    replay = TruthReplay.load(truth)
    zones = zones_of(replay)
    rule = AccidentRule(config or Config())
    tracker = Tracker()
    out = Run(replay.doc["scenario"])
    frames = int(loops * replay.loop_seconds * fps)
    for i in range(frames):
        t = i / fps
        tracks = tracker.update(replay.at(t), t)
        frame = FrameInfo("sim", None, t, START + timedelta(seconds=t), replay.width, replay.height, ref=i)
        out.accidents += rule.update(frame, tracks, zones)
    for loop in range(loops):
        for ev in replay.doc["events"]:
            at = loop * replay.loop_seconds + ev["start_s"]
            if ev["type"] in ACCIDENT_EVENTS and at + TOLERANCE_S < frames / fps:
                out.expected.append(at)
    return out


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    delays_s: tuple[float, ...]  # alert minus impact, per true positive


def score(result: Run, tolerance_s: float = TOLERANCE_S) -> Score:
    """Each impact matched to at most one alert from the impact to ``tolerance_s`` after it."""
    left = sorted(a.stream_time for a in result.accidents)
    delays = []
    for due in result.expected:
        near = [t for t in left if 0.0 <= t - due <= tolerance_s]
        if near:
            left.remove(near[0])
            delays.append(near[0] - due)
    tp = len(delays)
    return Score(tp, len(left), len(result.expected) - tp, tuple(delays))
