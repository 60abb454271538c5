"""The ETLE rules on the simulator's ground truth: truth -> detections -> real tracker -> rules, and the score.

Shared by ``tests/test_etle_truth.py`` and ``tests/test_etle_rules_pipeline.py``. The
truth file's zones become the camera's zones (pixels to fractions, a lane's
direction as it is), its signal head and calibration the rule's config; the
light is the truth's lamp of each frame (as a signal input gives it) unless the
caller reads it from the pictures. Truth events and the event kinds they must
give, with how far (seconds) the alert may lie from the truth's start:
:data:`EXPECTED`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.analytics.tracker import Tracker
from core.analytics.zones import Zone
from plugins.etle_rules.config import Config
from plugins.etle_rules.offence import FrameInfo, Offence
from plugins.etle_rules.rule import EtleRule
from plugins.truth_detector.replay import TruthReplay

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 7, 0, tzinfo=WITA)
CAMERA = "sim"
# truth event type -> (event kind, the alert from this long before the truth's start, to this long after its end)
EXPECTED = {
    "red_light": ("red_light.violation", 1.0, 1.5),
    "wrong_way": ("sign.violation", 0.0, 0.0),
    "speeding": ("speed.violation", 1.0, 1.5),
}


def _fraction(v: float, size: int) -> float:
    return min(max(v / size, 0.0), 1.0)


def zones_of(replay: TruthReplay) -> tuple[Zone, ...]:
    return tuple(
        Zone.model_validate({
            "id": z["id"], "name": z["id"], "kind": z["kind"], "direction": z.get("direction"),
            "points": [(_fraction(x, replay.width), _fraction(y, replay.height)) for x, y in z["polygon"]],
        })
        for z in replay.doc["zones"]
    )


def fixtures_of(replay: TruthReplay, camera: str = CAMERA) -> dict:
    """The rule's ``signals`` and ``speed_lines`` for the truth's camera (config values, fractions)."""
    w, h = replay.width, replay.height
    out: dict = {"signals": [], "speed_lines": []}
    head = replay.doc.get("signal_head")
    if head:
        x1, y1, x2, y2 = head["box"]
        out["signals"].append({"camera": camera, "box": [_fraction(x1, w), _fraction(y1, h), _fraction(x2, w), _fraction(y2, h)]})
    cal = replay.doc.get("calibration")
    if cal:
        first, second = ([{"x": _fraction(x, w), "y": _fraction(y, h)} for x, y in line] for line in cal["lines"])
        out["speed_lines"].append({"camera": camera, "first": first, "second": second, "distance_m": cal["distance_m"],
                                   "limit_kmh": cal.get("limit_kmh")})
    return out


@dataclass
class Run:
    scenario: str
    offences: list[Offence] = field(default_factory=list)
    expected: list[tuple[str, float, float]] = field(default_factory=list)  # kind, earliest, latest stream time
    speeds: list = field(default_factory=list)


def run(
    truth: Path | str,
    *,
    loops: int = 2,
    fps: float = 5.0,
    config: dict | None = None,
    calibrated: bool = True,
    light: Callable[[int, float], str | None] | None = None,
    detect: Callable[[int, float], list] | None = None,
) -> Run:
    """``light(i, t)``: the signal read on analysed frame ``i``; default: the truth's lamp, as a signal input.

    ``detect(i, t)``: the detections of analysed frame ``i`` at stream time ``t``; default: the truth's.
    """
    replay = TruthReplay.load(truth)
    fixtures = fixtures_of(replay)
    if not calibrated:
        fixtures["speed_lines"] = []
    rule = EtleRule(Config.model_validate({**fixtures, **(config or {})}))
    zones, tracker = zones_of(replay), Tracker()
    out = Run(replay.doc["scenario"])
    frames = int(loops * replay.loop_seconds * fps)
    for i in range(frames):
        t = i / fps
        tracks = tracker.update(replay.at(t) if detect is None else detect(i, t), t)
        frame = FrameInfo(CAMERA, None, t, START + timedelta(seconds=t), replay.width, replay.height, ref=i)
        if light is None:
            reading, sure = replay.doc["frames"][replay.index(t)].get("signal"), True
        else:
            reading, sure = light(i, t), False
        out.offences += rule.update(frame, tracks, zones, reading, sure)
    out.speeds = list(rule.speeds)
    for loop in range(loops):
        for ev in replay.doc["events"]:
            if ev["type"] not in EXPECTED:
                continue
            kind, before, after = EXPECTED[ev["type"]]
            base = loop * replay.loop_seconds
            if base + ev["start_s"] - before < frames / fps:
                out.expected.append((kind, base + ev["start_s"] - before, base + ev["end_s"] + after))
    return out


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int


def score(result: Run) -> Score:
    """Each expected alert matched to at most one offence of its kind in its time span."""
    left = sorted(result.offences, key=lambda o: o.stream_time)
    tp = 0
    for kind, earliest, latest in result.expected:
        hit = next((o for o in left if o.kind == kind and earliest <= o.stream_time <= latest), None)
        if hit is not None:
            left.remove(hit)
            tp += 1
    return Score(tp, len(left), len(result.expected) - tp)
