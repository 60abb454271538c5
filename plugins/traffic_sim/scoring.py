"""How well a detector sees the simulator: its detections against the ground truth of the same frame.

Used by ``bench/sim_recall.py`` and ``tests/test_sim_detector.py``. The rules:

- **Classes** count in two groups: vehicles (car, truck, bus, motorcycle) and people (person, a
  motorcycle's rider included). A car found as a truck is found; a person found as a car is not.
- **Counted objects** are those at least ``min_height`` pixels tall (40 by default, for both
  groups: the model sees the frame at 300x300, and smaller objects are out of its reach).
- **Hidden objects are ignored**: the truth's boxes cover what stands behind nearer objects
  (see docs/simulator.md), so an object less than half of which the picture shows is neither a
  hit nor a miss, and a detection on it is not a false one. What the picture shows is the share of
  the object's silhouette in sight (the truth's ``visible``, from the renderer's object-id layer:
  hidden by nearer objects, lamp posts and signs) times the share of its box inside the picture
  (``in_frame``, renderer 9: a car driving out at the side, of which a sliver is left). Truth
  without ``visible`` (renderer 4 and older) falls back to boxes: an object whose box is more than
  half covered by boxes of nearer objects (a rider's own motorcycle aside) is hidden.
- **A hit** is a detection of the object's group with IoU at least ``iou`` (0.5) with its box,
  paired greedily by score, each detection and each object used once.
- **Precision** is over detections of either group at least ``min_height`` tall: a detection is
  correct when it pairs with a truth object of its group of any size (hidden or small ones too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

GROUPS = {"car": "vehicle", "truck": "vehicle", "bus": "vehicle", "motorcycle": "vehicle", "person": "person"}


@dataclass
class Tally:
    """Counts for one group: counted objects found and missed, detections right and wrong."""

    found: int = 0
    missed: int = 0
    correct: int = 0
    wrong: int = 0

    @property
    def recall(self) -> float | None:
        n = self.found + self.missed
        return self.found / n if n else None

    @property
    def precision(self) -> float | None:
        n = self.correct + self.wrong
        return self.correct / n if n else None

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.missed += other.missed
        self.correct += other.correct
        self.wrong += other.wrong


@dataclass
class Score:
    groups: dict[str, Tally] = field(default_factory=lambda: {"vehicle": Tally(), "person": Tally()})
    misses: list[tuple[int, str, list[int]]] = field(default_factory=list)  # frame, object id, box
    hits: list[tuple[int, str, list[int]]] = field(default_factory=list)  # counted objects found, as misses

    def add(self, other: Score) -> None:
        for g, t in other.groups.items():
            self.groups[g].add(t)
        self.misses += other.misses
        self.hits += other.hits


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _covered(box: Sequence[float], others: Iterable[Sequence[float]]) -> float:
    """Share of ``box`` under the union of ``others`` (on a pixel grid)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for o in others:
        ox0, oy0 = max(int(o[0]), x0) - x0, max(int(o[1]), y0) - y0
        ox1, oy1 = min(int(o[2]), x1) - x0, min(int(o[3]), y1) - y0
        if ox1 > ox0 and oy1 > oy0:
            mask[oy0:oy1, ox0:ox1] = True
    return float(mask.mean())


def score_frame(
    index: int,
    truth_objects: list[dict],
    classes: dict[str, str],
    detections: Iterable,
    min_height: float = 40.0,
    iou_min: float = 0.5,
    hidden: float = 0.5,
) -> Score:
    """Score one frame. ``truth_objects``: the truth's ``frames[i].objects``; ``classes``: id -> class.

    ``detections``: objects with ``label``, ``score``, ``x1, y1, x2, y2`` (the detector contract's
    :class:`~core.analytics.detector.Detection`).
    """
    score = Score()
    objs = [o for o in truth_objects if classes.get(o["id"]) in GROUPS]
    dets = sorted((d for d in detections if d.label in GROUPS), key=lambda d: -d.score)
    counted: dict[str, bool] = {}
    for o in objs:
        x0, y0, x1, y1 = o["bbox"]
        if y1 - y0 < min_height:
            counted[o["id"]] = False
            continue
        if "visible" in o:
            counted[o["id"]] = o["visible"] * o.get("in_frame", 1.0) >= 1.0 - hidden
            continue
        own = o["id"].split(".")[0]
        nearer = [p["bbox"] for p in objs if p["depth"] < o["depth"] - 0.3 and p["id"].split(".")[0] != own]
        counted[o["id"]] = _covered(o["bbox"], nearer) <= hidden
    taken: set[str] = set()
    for d in dets:
        group = GROUPS[d.label]
        box = (d.x1, d.y1, d.x2, d.y2)
        best, best_iou = None, iou_min
        for o in objs:
            if o["id"] in taken or GROUPS[classes[o["id"]]] != group:
                continue
            v = iou(box, o["bbox"])
            if v >= best_iou:
                best, best_iou = o, v
        tall = d.y2 - d.y1 >= min_height
        if best is not None:
            taken.add(best["id"])
            if counted[best["id"]]:
                score.groups[group].found += 1
                score.hits.append((index, best["id"], best["bbox"]))
            if tall:
                score.groups[group].correct += 1
        elif tall:
            score.groups[group].wrong += 1
    for o in objs:
        if counted[o["id"]] and o["id"] not in taken:
            score.groups[GROUPS[classes[o["id"]]]].missed += 1
            score.misses.append((index, o["id"], o["bbox"]))
    return score
