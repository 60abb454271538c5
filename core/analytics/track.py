"""One tracked object: the public snapshot rules read (:class:`Track`) and the tracker's working state.

:class:`Track` is what :class:`core.analytics.tracker.Tracker` hands out after
each update; :class:`WorkingTrack` is what it keeps between updates (matches,
label votes, the still-standing anchor, the fitted speed). Pure computation.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from core.analytics.assignment import Box

TrackState = Literal["tracked", "lost"]

STANDING_S = 1.0  # still this long: a track is predicted to stay where it stood, whatever its filter says


class DetectionLike(Protocol):
    """What the tracker reads of a detection: ``core.analytics.detector.Detection`` has it."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def box(self) -> tuple[float, float, float, float]: ...  # x1, y1, x2, y2 in pixels



@dataclass(frozen=True, slots=True)
class Track:
    """One object as the tracker sees it after an update: a snapshot, safe to keep and to hand on.

    Times are stream seconds. ``box`` is the last detection's box (what the
    picture showed), not the filter's estimate. ``history`` holds the last
    matched boxes as ``(t, x1, y1, x2, y2)``, oldest first.
    """

    id: int
    label: str  # the label most often seen, weighted by score
    score: float  # the last matched detection's
    box: Box
    state: TrackState  # "lost": not seen this frame; box and history are as last seen
    first_seen: float
    last_seen: float
    hits: int  # detections matched over the track's life
    stationary_since: float  # its centre has stayed within stationary_fraction of its size since then
    velocity: tuple[float, float]  # centre's, pixels per second: a straight-line fit over velocity_window_s of history
    history: tuple[tuple[float, float, float, float, float], ...]

    @property
    def speed(self) -> float:
        """Pixels per second."""
        return math.hypot(*self.velocity)

    @property
    def stationary_s(self) -> float:
        """How long it has stood still (0 while it moves), up to when it was last seen."""
        return self.last_seen - self.stationary_since

    @property
    def ground_point(self) -> tuple[float, float]:
        """Bottom centre of the box: where a vehicle or a person touches the road."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)


class WorkingTrack:
    """A track's working state; :meth:`snapshot` gives the public :class:`Track`."""

    __slots__ = (
        "id", "state", "streak", "hits", "label_votes", "label", "score", "box",
        "first_seen", "last_seen", "history", "anchor_sum", "anchor_n", "stationary_since", "velocity", "course",
        "whole", "misses", "overlap_since",
    )

    def __init__(self, det: DetectionLike, t: float, history: int) -> None:
        self.id: int | None = None
        self.state = "tentative"
        self.streak = 0
        self.hits = 0
        self.label_votes: dict[str, float] = {}
        self.label = det.label
        self.score = det.score
        self.box: Box = tuple(det.box)  # type: ignore[assignment]
        self.first_seen = t
        self.last_seen = t
        self.history: collections.deque[tuple[float, float, float, float, float]] = collections.deque(maxlen=history)
        self.anchor_sum = np.zeros(4)
        self.anchor_n = 0
        self.stationary_since = t
        self.velocity: tuple[float, float] | None = None
        self.course = (0.0, 0.0)  # velocity at the last box's size (perspective_scale), pixels per second
        self.whole: tuple[float, float] | None = None  # width, height when last seen with nothing touching it
        self.misses = 0  # frames in a row without a detection
        self.overlap_since: float | None = None  # stream time it began to lie on an older track (a duplicate)

    def observe(self, det: DetectionLike, t: float, kind: str, velocity_window: float, covered: bool) -> None:
        """Record a matched detection; ``kind`` is what :meth:`classify` said of its box."""
        box = tuple(float(v) for v in det.box)
        if not covered:
            w, h = box[2] - box[0], box[3] - box[1]
            self.whole = (w, h) if self.whole is None else (0.7 * self.whole[0] + 0.3 * w, 0.7 * self.whole[1] + 0.3 * h)
        self.box = box  # type: ignore[assignment]
        self.score = float(det.score)
        self.hits += 1
        self.streak += 1
        self.misses = 0
        self.last_seen = t
        self.history.append((t, *box))
        self.velocity = fit_velocity(self.history, velocity_window)
        if self.velocity is not None:
            scale = perspective_scale(self.history, velocity_window)
            self.course = (self.velocity[0] * scale, self.velocity[1] * scale)
        votes = self.label_votes
        votes[det.label] = votes.get(det.label, 0.0) + max(float(det.score), 1e-6)
        if det.label != self.label and votes[det.label] > votes.get(self.label, 0.0):
            self.label = det.label
        if kind == "still":
            self.anchor_sum += box
            self.anchor_n += 1
        elif kind == "moved":
            self.anchor_sum, self.anchor_n, self.stationary_since = np.array(box), 1, t

    def classify(self, box: Box, fraction: float) -> str:
        """``"still"``, ``"partial"`` or ``"moved"``: how ``box`` stands to where the track stands still.

        The anchor is the mean box since the track stopped, so jitter averages
        out. A box whose centre strays from it by more than ``fraction`` of its
        size has moved, unless it lies inside the anchor box: a parked car half
        hidden by a passing bus shows a smaller box with a shifted centre
        (``"partial"``), and has not moved at all.
        """
        if self.anchor_n == 0:
            return "moved"
        anchor = self.anchor_sum / self.anchor_n
        w, h = max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)
        dx = (box[0] + box[2] - anchor[0] - anchor[2]) / 2
        dy = (box[1] + box[3] - anchor[1] - anchor[3]) / 2
        if math.hypot(dx, dy) <= fraction * math.sqrt(w * h):
            return "still"
        margin = fraction * math.sqrt(max(anchor[2] - anchor[0], 1.0) * max(anchor[3] - anchor[1], 1.0)) / 2
        inside = (
            box[0] >= anchor[0] - margin and box[1] >= anchor[1] - margin
            and box[2] <= anchor[2] + margin and box[3] <= anchor[3] + margin
        )
        return "partial" if inside else "moved"

    def standing(self) -> bool:
        """Still for a while: its anchor box is a better guess of the whole object than any partial view."""
        return self.anchor_n >= 2 and self.last_seen - self.stationary_since >= STANDING_S

    def anchor_box(self) -> np.ndarray:
        return self.anchor_sum / self.anchor_n

    def snapshot(self, mean: np.ndarray) -> Track:
        assert self.id is not None
        velocity = self.velocity or (float(mean[4]), float(mean[5]))
        return Track(
            id=self.id,
            label=self.label,
            score=self.score,
            box=self.box,
            state="tracked" if self.state == "tracked" else "lost",
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            hits=self.hits,
            stationary_since=self.stationary_since,
            velocity=velocity,
            history=tuple(self.history),
        )



def fit_velocity(history: Sequence[tuple[float, float, float, float, float]], window: float) -> tuple[float, float] | None:
    """Least-squares slope of the box centre over the last ``window`` seconds; ``None`` with under 2 points."""
    if len(history) < 2:
        return None
    t_end = history[-1][0]
    n = st = sx = sy = stt = stx = sty = 0.0
    for t, x1, y1, x2, y2 in reversed(history):
        if t_end - t > window and n >= 2:
            break
        t -= t_end  # near zero: keeps the sums exact
        x, y = (x1 + x2) / 2, (y1 + y2) / 2
        n += 1
        st += t
        sx += x
        sy += y
        stt += t * t
        stx += t * x
        sty += t * y
    var = n * stt - st * st
    if var <= 1e-12:
        return None
    return ((n * stx - st * sx) / var, (n * sty - st * sy) / var)


def perspective_scale(history: Sequence[tuple[float, float, float, float, float]], window: float) -> float:
    """The last box's size over the mean size of the boxes in the last ``window`` seconds (1.0 with none).

    A speed fitted over the window, times this, is the speed at the last box's size: in the picture an object's
    speed goes with its size (its distance), and it is the window's mean size the fit measured at.
    """
    if not history:
        return 1.0
    t_end = history[-1][0]
    total = n = 0.0
    for t, x1, y1, x2, y2 in reversed(history):
        if t_end - t > window and n >= 2:
            break
        total += math.sqrt(max(x2 - x1, 1.0) * max(y2 - y1, 1.0))
        n += 1
    _, x1, y1, x2, y2 = history[-1]
    return math.sqrt(max(x2 - x1, 1.0) * max(y2 - y1, 1.0)) / (total / n)
