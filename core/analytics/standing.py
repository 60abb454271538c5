"""Standing candidates: an object the detector keeps finding in one place, but never surely.

ByteTrack keeps a track alive on low-score detections but starts one only on a
sure detection. A parked car seen from a pole, from behind, can score 0.15-0.35
in every frame for minutes and never once reach a new track's score: the
illegal-parking rule then never sees it, although the detector found it all the
time. A low-score detection of one of ``labels`` that no track owns becomes a
candidate; found again at the same place (IoU at least ``iou`` with the
candidate's box) in at least ``share`` of the frames over ``seconds``, it is
handed back to start a confirmed track, with the time and boxes it was first
seen at. Something that moves does not stay on its own box, and something seen
now and then does not reach the share, so only a steady presence qualifies.

Pure computation, owned by one :class:`core.analytics.tracker.Tracker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.analytics.assignment import boxes_array, intersection, iou_matrix, match
from core.analytics.track import DetectionLike

SECOND_BOX_IOU = 0.3  # a box overlapping a tracked object's this much is that object's second box
HELD = 0.9  # a tracked vehicle's box this much inside a candidate's is held by it
GROUP = 2  # a candidate holding this many tracked vehicles is the detector's box over a group of them


@dataclass
class Candidate:
    det: DetectionLike  # the last detection found here
    box: np.ndarray  # where it stands: a running mean of its boxes
    first: float  # stream time first seen
    last: float  # stream time last seen
    frames: int = 1  # detector runs since first seen
    hits: int = 1  # ... that found it here
    seen: list[tuple[float, tuple[float, float, float, float]]] = field(default_factory=list)


@dataclass(frozen=True)
class Promoted:
    det: DetectionLike
    box: np.ndarray  # where it stands (the mean of its boxes)
    first: float
    seen: list[tuple[float, tuple[float, float, float, float]]]


class StandingCandidates:
    def __init__(self, labels: Sequence[str], min_score: float, iou: float, seconds: float, share: float,
                 max_gap_s: float, min_hits: int = 5, limit: int = 64, max_aspect: float | None = None,
                 keep_score: float | None = None) -> None:
        self.labels = frozenset(labels)
        # a candidate starts on a box from min_score and is found again on one from keep_score (as ByteTrack starts a
        # track on a sure box and keeps it on an unsure one): a parked car's score flickers between the model's two
        # lowest steps, and counting only the upper one made it look seen now and then
        self.keep_score = min_score if keep_score is None else min(keep_score, min_score)
        self.max_aspect = max_aspect  # a candidate at most this many times as tall as wide (None: any)
        self.min_score, self.iou, self.seconds, self.share, self.max_gap_s = min_score, iou, seconds, share, max_gap_s
        self.min_hits = min_hits  # runs that found it, at least (the detector may rest while nothing moves)
        self.limit = limit  # candidates kept at most (a frame full of low-score boxes must not grow this)
        self._items: list[Candidate] = []

    def reset(self) -> None:
        self._items = []

    def __len__(self) -> int:
        return len(self._items)

    def update(self, dets: Sequence[DetectionLike], owned: np.ndarray, t: float, max_area: float | None = None,
               vehicles: np.ndarray | None = None) -> list[Promoted]:
        """One detector run: ``dets`` no track took, ``owned`` the tracks' boxes (N x 4), ``max_area`` the largest
        box a candidate may have (px², None: any), ``vehicles`` the confirmed vehicle tracks' boxes (M x 4). What
        is promoted now."""
        if not self.labels or self.seconds <= 0:
            return []
        dets = [d for d in dets if d.label in self.labels and d.score >= self.keep_score
                and (max_area is None or (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) <= max_area)
                and (self.max_aspect is None or d.box[3] - d.box[1] <= self.max_aspect * (d.box[2] - d.box[0]))]
        if dets and len(owned):  # a second box of a tracked object is not a new object
            overlap = iou_matrix(boxes_array([d.box for d in dets]), owned).max(axis=1)
            dets = [d for d, o in zip(dets, overlap) if o < SECOND_BOX_IOU]
        items = self._items
        for c in items:
            c.frames += 1
        left = list(range(len(dets)))
        if items and dets:
            iou = iou_matrix(np.array([c.box for c in items]), boxes_array([d.box for d in dets]))
            pairs, _, left = match(iou, self.iou)
            for r, k in pairs:
                c, d = items[r], dets[k]
                c.det, c.last, c.hits = d, t, c.hits + 1
                c.box = 0.8 * c.box + 0.2 * np.asarray(d.box, dtype=float)
                c.seen.append((t, tuple(float(v) for v in d.box)))
        for k in left:
            d = dets[k]
            if d.score < self.min_score:
                continue  # too unsure to start a candidate
            items.append(Candidate(d, np.asarray(d.box, dtype=float), t, t, seen=[(t, tuple(float(v) for v in d.box))]))
        promoted, kept = [], []
        taken = [np.asarray(b, dtype=float) for b in owned]
        for c in sorted(items, key=lambda c: (c.first, -c.hits)):  # the longest-standing first
            if t - c.last > self.max_gap_s or (c.frames >= self.min_hits and c.hits < self.share * c.frames):
                continue  # gone, or only now and then
            if t - c.first >= self.seconds and c.hits >= max(self.min_hits, self.share * c.frames):
                # a second box of a car already tracked, or of one promoted a moment ago (two candidates, each the
                # detector's faint box of one parked car, can ripen in turn): not a second car
                if taken and iou_matrix(c.box[None], np.array(taken)).max() >= SECOND_BOX_IOU:
                    continue
                # holding two tracked vehicles whole: the detector's faint box over a queue far up the road, not a
                # vehicle (one vehicle may hide behind another in the picture, two whole ones inside it do not)
                if vehicles is not None and _held(c.box, vehicles) >= GROUP:
                    continue
                promoted.append(Promoted(c.det, c.box, c.first, c.seen))
                taken.append(c.box)
                continue
            kept.append(c)
        kept.sort(key=lambda c: -c.hits)
        self._items = kept[: self.limit]
        return promoted

    def hold(self, t: float) -> None:
        """Nothing moved (the detector rested): what stood there still does."""
        for c in self._items:
            c.last = t


def _held(box: np.ndarray, boxes: np.ndarray) -> int:
    """How many of ``boxes`` (N x 4) lie at least :data:`HELD` of their area inside ``box``."""
    return sum(intersection(box, b) >= HELD * max((b[2] - b[0]) * (b[3] - b[1]), 1e-9) for b in boxes)
