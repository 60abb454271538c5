"""Multi-object tracking: stable ids for the detector's boxes, frame after frame.

ByteTrack's association (Zhang et al., 2022) on a constant-velocity Kalman
filter (:mod:`core.analytics.motion`), with what the rules need on each track.
Every update:

1. all tracks are predicted to the frame's stream time;
2. confirmed tracks (seen now or lost a moment ago) take the high-score
   detections, by IoU with the predicted box (:func:`core.analytics.assignment.match`);
3. confirmed tracks still unmatched and seen last frame take the low-score
   detections: an object half hidden behind a bus scores low but is still
   the same object, so its track keeps its id instead of losing it;
4. tentative tracks take what is left of the high-score detections;
5. tracks still unmatched (confirmed first, then tentative) take a high-score
   detection about their size and shape (their label preferred) whose centre lies
   where the track is expected: within ``gate_sizes`` of its size of the
   predicted centre, plus ``gate_wander`` sizes a second and ``gate_speed`` of
   the distance its own speed carries it since it was last seen (``gate_new``
   sizes a second for a track seen once, whose speed nobody knows yet), if it
   was seen ``gate_unseen_s`` ago or less (a track that stands still is left to
   IoU with where it stands). A real detector misses an object in one frame of two (night,
   small, far): a fast car is then two box lengths away from where the filter,
   which learnt its speed from two or three sightings, puts it, and IoU alone
   would start a new track every few frames;
6. an unmatched confirmed track becomes lost and survives ``max_lost_s``
   (``max_lost_standing_s`` if it stood still: a bus stopped in front of a parked car);
   an unmatched tentative one survives ``tentative_misses`` frames and
   ``tentative_lost_s`` seconds; a high-score detection that nobody took and
   that is not a second box of an object already tracked (IoU ``duplicate_iou``
   with a matched detection or a tracked box) starts a tentative track,
   confirmed (and only then given an id) after ``min_hits`` matches;
7. of two tracked tracks whose boxes overlap by ``duplicate_iou`` or more, for
   ``duplicate_s``, the younger is dropped (ByteTrack's duplicate removal): one
   object, one id, so that a rule's timer and alert belong to one track.

Ids are small integers, never reused by one tracker, even across :meth:`Tracker.reset`.
A tracker belongs to one view (one camera, one PTZ preset; :class:`ViewTrackers`):
when the camera moves, every box it knew is meaningless, so the view's
tracker is reset.

Pure computation: no I/O, no clock, no lock. One thread calls one tracker.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.analytics import motion
from core.analytics.assignment import Box, boxes_array, iou_matrix, match

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


class TrackerConfig(BaseModel):
    """The tracker's parameters; the defaults suit 2-10 fps traffic cameras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_score: float = Field(default=0.5, gt=0, le=1)  # at or above: a sure detection (stages 2 and 4)
    low_score: float = Field(default=0.1, ge=0, le=1)  # from here to high_score: only to keep a track (stage 3)
    new_track_score: float = Field(default=0.6, gt=0, le=1)  # a new track needs at least this
    match_iou: float = Field(default=0.2, gt=0, le=1)  # least IoU of a high-score pair
    low_match_iou: float = Field(default=0.5, gt=0, le=1)  # least IoU of a low-score pair
    tentative_match_iou: float = Field(default=0.3, gt=0, le=1)  # least IoU for a tentative track
    tentative_buffer: float = Field(default=0.5, ge=0, le=2)  # ... of boxes grown by this much of their size each way
    label_mismatch_weight: float = Field(default=0.5, ge=0, le=1)  # a pair of different labels counts this much of its IoU
    min_hits: int = Field(default=3, ge=1, le=100)  # matches before a track is confirmed
    tentative_misses: int = Field(default=4, ge=0, le=100)  # frames in a row a tentative track may go unseen ...
    tentative_lost_s: float = Field(default=1.0, ge=0, le=60)  # ... and seconds
    gate_sizes: float = Field(default=0.6, ge=0, le=10)  # stage 5: centre within this much of the box's size ...
    gate_wander: float = Field(default=0.5, ge=0, le=10)  # ... plus this many sizes a second unseen (a turn, a stop)
    gate_speed: float = Field(default=0.5, ge=0, le=10)  # ... plus this much of the way its speed takes it unseen
    gate_new: float = Field(default=4.0, ge=0, le=50)  # ... a track seen once (no speed yet): this many sizes a second
    gate_unseen_s: float = Field(default=1.0, ge=0, le=60)  # ... only for a track unseen at most this long
    gate_size_ratio: float = Field(default=1.6, ge=1, le=10)  # ... a box at most this much larger or smaller, wider or taller
    duplicate_iou: float = Field(default=0.7, gt=0, le=1)  # two boxes of one object: no new track; two tracks: one
    duplicate_s: float = Field(default=0.5, ge=0, le=60)  # ... overlapping this long before the younger is dropped
    max_lost_s: float = Field(default=5.0, ge=0, le=600)  # a lost track is dropped after this long unseen
    max_lost_standing_s: float = Field(default=30.0, ge=0, le=3600)  # ... one that stood still when it hid
    history: int = Field(default=64, ge=2, le=10_000)  # positions kept per track
    stationary_fraction: float = Field(default=0.2, gt=0, le=2)  # moved: centre off by this much of the box's size
    velocity_window_s: float = Field(default=1.5, gt=0, le=60)  # speed: straight-line fit of the centres seen this long

    @model_validator(mode="after")
    def _order(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError(f"low_score ({self.low_score:g}) must not exceed high_score ({self.high_score:g})")
        if self.new_track_score < self.high_score:
            raise ValueError(f"new_track_score ({self.new_track_score:g}) must not be below high_score ({self.high_score:g})")
        return self


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


class _Track:
    """A track's working state; :meth:`snapshot` gives the public :class:`Track`."""

    __slots__ = (
        "id", "state", "streak", "hits", "label_votes", "label", "score", "box",
        "first_seen", "last_seen", "history", "anchor_sum", "anchor_n", "stationary_since", "velocity",
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
        self.velocity = _fit_velocity(self.history, velocity_window)
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


class Tracker:
    """Tracks of one view. Feed it each analysed frame's detections with :meth:`update`.

    The filters' states live in two arrays (``mean`` N x 8, ``cov`` N x 8 x 8),
    row ``i`` belonging to ``self._tracks[i]``, so that a frame costs a few numpy
    calls whatever the number of tracks.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget every track (the camera moved, the stream restarted); ids go on from where they were."""
        self._tracks: list[_Track] = []
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._t: float | None = None

    @property
    def time(self) -> float | None:
        """Stream time of the last update, ``None`` before the first or after a reset."""
        return self._t

    def update(self, detections: Iterable[DetectionLike], t: float) -> list[Track]:
        """Take one frame's detections at stream time ``t`` (seconds); the confirmed tracks after it.

        Tracked and lost tracks alike are returned, ordered by id; a lost one is
        kept ``max_lost_s`` (``max_lost_standing_s`` if it stood still) in case it shows again. A detection whose box is
        empty (x2 <= x1 or y2 <= y1) or not finite is ignored. A ``t`` earlier than the
        last update's means the stream started over: the tracker resets first.
        """
        cfg = self.config
        if self._t is not None and t < self._t:
            self.reset()
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        if dt > 0 and self._tracks:
            self._mean, self._cov = motion.predict(self._mean, self._cov, dt)

        high: list[DetectionLike] = []
        low: list[DetectionLike] = []
        valid: list[DetectionLike] = []
        for det in detections:
            x1, y1, x2, y2 = det.box
            if not (x2 > x1 and y2 > y1 and math.isfinite(x1 + y1 + x2 + y2)):
                continue  # an empty or broken box would poison a track's filter for good
            valid.append(det)
            if det.score >= cfg.high_score:
                high.append(det)
            elif det.score >= cfg.low_score:
                low.append(det)

        tracks = self._tracks
        confirmed = [i for i, tr in enumerate(tracks) if tr.state != "tentative"]
        tentative = [i for i, tr in enumerate(tracks) if tr.state == "tentative"]
        matched: list[tuple[int, DetectionLike]] = []

        pairs, left_rows, left_high = self._associate(confirmed, high, cfg.match_iou)
        matched += pairs
        recent = [i for i in left_rows if tracks[i].state == "tracked"]
        pairs, _, _ = self._associate(recent, low, cfg.low_match_iou)
        matched += pairs
        high = [high[i] for i in left_high]
        pairs, left_tentative, left_high = self._associate(tentative, high, cfg.tentative_match_iou, cfg.tentative_buffer)
        matched += pairs
        high = [high[i] for i in left_high]
        if high and cfg.gate_sizes > 0:
            taken = {i for i, _ in matched}
            for rows in ([i for i in confirmed if i not in taken], left_tentative):
                pairs, high = self._gated(rows, high, t)
                matched += pairs

        self._correct(matched, valid, t)
        seen = {i for i, _ in matched}
        keep = []
        for i, tr in enumerate(tracks):
            if i not in seen:
                if tr.state == "tentative":
                    tr.misses += 1
                    if tr.misses > cfg.tentative_misses or t - tr.last_seen > cfg.tentative_lost_s:
                        continue
                    keep.append(i)
                    continue
                if tr.state == "tracked":
                    tr.state = "lost"
                    tr.streak = 0
                    if tr.standing():  # hidden where it stood: wait for it there, whole
                        self._mean[i, :4] = motion.to_cxcywh(tr.anchor_box()[None])[0]
                        self._mean[i, 4:] = 0.0
                    else:
                        self._mean[i, 6:] = 0.0  # a hidden box keeps its size
                if t - tr.last_seen > (cfg.max_lost_standing_s if tr.standing() else cfg.max_lost_s):
                    continue
            keep.append(i)
        self._keep(keep)
        self._drop_duplicates(t)
        fresh = [d for d in high if d.score >= cfg.new_track_score]
        if fresh:
            fresh = self._not_duplicates(fresh, [d for _, d in matched])
        self._start(fresh, t)
        return self.tracks()

    def hold(self, t: float) -> list[Track]:
        """Nothing moved up to stream time ``t`` (the motion gate skipped the detector): tracks stand still.

        Tracked tracks count as seen at ``t``, so a parked car's stationary time
        grows while the detector rests; lost ones age as usual. The confirmed
        tracks after it, as :meth:`update` gives them.
        """
        if self._t is None or t < self._t:
            return self.update((), t)
        self._t = t
        self._mean[:, 4:] = 0.0
        keep = []
        for i, tr in enumerate(self._tracks):
            if tr.state == "tracked":
                tr.last_seen = t
                tr.velocity = (0.0, 0.0)
            elif tr.state == "lost" and t - tr.last_seen > (
                self.config.max_lost_standing_s if tr.standing() else self.config.max_lost_s
            ):
                continue
            keep.append(i)
        self._keep(keep)
        return self.tracks()

    def tracks(self) -> list[Track]:
        """The confirmed tracks now, tracked and lost, ordered by id."""
        mean = self._mean
        out = [tr.snapshot(mean[i]) for i, tr in enumerate(self._tracks) if tr.id is not None]
        out.sort(key=lambda tr: tr.id)
        return out

    # --- steps ---------------------------------------------------------------

    def _keep(self, rows: list[int]) -> None:
        if len(rows) < len(self._tracks):
            self._tracks = [self._tracks[i] for i in rows]
            self._mean = self._mean[rows]
            self._cov = self._cov[rows]

    def _associate(
        self, rows: list[int], dets: Sequence[DetectionLike], threshold: float, buffer: float = 0.0
    ) -> tuple[list[tuple[int, DetectionLike]], list[int], list[int]]:
        if not rows or not dets:
            return [], rows, list(range(len(dets)))
        predicted = motion.to_xyxy(self._mean[rows])
        boxes = boxes_array([d.box for d in dets])
        if buffer:
            # a new track has no speed yet: at a few frames a second a small fast object moves off its own box,
            # so both boxes are grown before they are compared (buffered IoU, Yang et al. 2023)
            predicted, boxes = _grown(predicted, buffer), _grown(boxes, buffer)
        iou = iou_matrix(predicted, boxes)
        weight = iou
        if self.config.label_mismatch_weight < 1:
            tracks = self._tracks
            same = np.array([[tracks[i].label == d.label for d in dets] for i in rows])
            weight = np.where(same, iou, iou * self.config.label_mismatch_weight)
        pairs, left_rows, cols = match(iou, threshold, weight)
        return [(rows[r], dets[c]) for r, c in pairs], [rows[r] for r in left_rows], cols

    def _gated(
        self, rows: list[int], dets: list[DetectionLike], t: float
    ) -> tuple[list[tuple[int, DetectionLike]], list[DetectionLike]]:
        """Stage 5: tracks and detections IoU left apart, paired by centre distance within each track's gate."""
        if not rows or not dets:
            return [], dets
        cfg = self.config
        tracks = self._tracks
        predicted = motion.to_xyxy(self._mean[rows])
        boxes = boxes_array([d.box for d in dets])
        pc = (predicted[:, :2] + predicted[:, 2:]) / 2
        dc = (boxes[:, :2] + boxes[:, 2:]) / 2
        dw, dh = np.clip(boxes[:, 2] - boxes[:, 0], 1, None), np.clip(boxes[:, 3] - boxes[:, 1], 1, None)
        dsize, daspect = np.sqrt(dw * dh), dw / dh
        score = np.zeros((len(rows), len(dets)))
        for k, i in enumerate(rows):
            tr = tracks[i]
            x1, y1, x2, y2 = tr.box
            w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
            size = math.sqrt(w * h)
            unseen = max(t - tr.last_seen, 0.0)
            vx, vy = tr.velocity or (0.0, 0.0)
            if (tr.state != "tentative" and tr.standing()) or unseen > cfg.gate_unseen_s:
                continue  # found again where it stands (IoU with its anchor); or unseen too long to guess where
            wander = cfg.gate_wander if tr.velocity is not None else cfg.gate_new  # seen once: any way, fast
            gate = (cfg.gate_sizes + wander * unseen) * size + cfg.gate_speed * math.hypot(vx, vy) * unseen
            # where its filter says, or where its own recent course says: the filter learns a speed slowly
            course = np.array([(x1 + x2) / 2 + vx * unseen, (y1 + y2) / 2 + vy * unseen])
            dist = np.minimum(np.hypot(*(dc - pc[k]).T), np.hypot(*(dc - course).T))
            ratio = np.maximum(dsize / size, size / dsize)
            shape = np.maximum(daspect / (w / h), (w / h) / daspect)
            same = np.array([d.label == tr.label for d in dets])
            ok = (ratio <= cfg.gate_size_ratio) & (shape <= cfg.gate_size_ratio) & (dist <= gate)
            near = (1.0 - dist / max(gate, 1e-6)) * np.where(same, 1.0, cfg.label_mismatch_weight) + 1e-3
            score[k] = np.where(ok, near, 0.0)
        pairs, _, cols = match(score, 1e-4)
        return [(rows[r], dets[c]) for r, c in pairs], [dets[c] for c in cols]

    def _not_duplicates(self, fresh: list[DetectionLike], matched: list[DetectionLike]) -> list[DetectionLike]:
        """The detections that are not a second box of an object already tracked (tiles, or car and truck at once)."""
        known = [d.box for d in matched] + [tr.box for tr in self._tracks if tr.state == "tracked"]
        if not known:
            return fresh
        iou = iou_matrix(boxes_array([d.box for d in fresh]), boxes_array(known))
        return [d for d, row in zip(fresh, iou) if row.max() < self.config.duplicate_iou]

    def _drop_duplicates(self, t: float) -> None:
        """Of two tracked tracks on one object for ``duplicate_s``, keep the older (it holds the rules' timers)."""
        tracks = self._tracks
        live = [i for i, tr in enumerate(tracks) if tr.state == "tracked" and tr.id is not None]
        if len(live) < 2:
            return
        iou = iou_matrix(boxes_array([tracks[i].box for i in live]), boxes_array([tracks[i].box for i in live]))
        np.fill_diagonal(iou, 0.0)
        drop = set()
        for a, i in enumerate(live):
            tr = tracks[i]
            older = [live[b] for b in np.nonzero(iou[a] >= self.config.duplicate_iou)[0]
                     if (tracks[live[b]].first_seen, tracks[live[b]].id) < (tr.first_seen, tr.id)]
            if not older:
                tr.overlap_since = None
                continue
            if tr.overlap_since is None:
                tr.overlap_since = t
            if t - tr.overlap_since >= self.config.duplicate_s:
                drop.add(i)
        if drop:
            self._keep([i for i in range(len(tracks)) if i not in drop])

    def _correct(self, matched: list[tuple[int, DetectionLike]], dets: list[DetectionLike], t: float) -> None:
        if not matched:
            return
        tracks = self._tracks
        fraction = self.config.stationary_fraction
        rows = [i for i, _ in matched]
        boxes = boxes_array([d.box for _, d in matched])
        kinds = [tracks[i].classify(d.box, fraction) for i, d in matched]
        predicted = motion.to_xyxy(self._mean[rows])
        covered = _covered(boxes, [d for _, d in matched], dets)
        for k, (i, _) in enumerate(matched):
            tr = tracks[i]
            if kinds[k] == "partial" and tr.standing():
                # a standing object seen in part is measured where it stands, whole
                boxes[k] = tr.anchor_box()
            elif covered[k] and tr.state != "tentative" and tr.whole is not None:
                # seen in part behind another object: measured at its whole size, from its visible edges,
                # so that its filter neither shrinks it nor learns a false speed from the moving edge
                cx, cy = (predicted[k, 0] + predicted[k, 2]) / 2, (predicted[k, 1] + predicted[k, 3]) / 2
                w, h = tr.whole
                boxes[k] = _completed(boxes[k], np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
        self._mean[rows], self._cov[rows] = motion.correct(self._mean[rows], self._cov[rows], boxes)
        window = self.config.velocity_window_s
        for (i, det), kind, cover in zip(matched, kinds, covered):
            tr = tracks[i]
            tr.observe(det, t, kind, window, cover)
            if tr.state == "tentative" and tr.hits < self.config.min_hits:
                continue
            if tr.id is None:
                tr.id = self._next_id
                self._next_id += 1
            tr.state = "tracked"

    def _start(self, dets: list[DetectionLike], t: float) -> None:
        if not dets:
            return
        mean, cov = motion.initiate(boxes_array([d.box for d in dets]))
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        for det in dets:
            tr = _Track(det, t, self.config.history)
            tr.observe(det, t, "moved", self.config.velocity_window_s, True)
            if self.config.min_hits <= 1:
                tr.id = self._next_id
                self._next_id += 1
                tr.state = "tracked"
            self._tracks.append(tr)


PARTIAL = 0.8  # a box this much narrower or shorter than predicted, with another box over it, is a partial view
COVER_MARGIN = 0.1  # boxes jitter: another box this close (fraction of its size) counts as touching


def _covered(boxes: np.ndarray, own: list[DetectionLike], dets: list[DetectionLike]) -> list[bool]:
    """For each box, whether another detection of the frame overlaps or touches it (it may hide a part)."""
    if len(dets) < 2:
        return [False] * len(boxes)
    others = _grown(boxes_array([d.box for d in dets]), COVER_MARGIN)
    overlaps = iou_matrix(boxes, others) > 0
    index = {id(d): j for j, d in enumerate(dets)}
    for k, det in enumerate(own):
        overlaps[k, index[id(det)]] = False
    return overlaps.any(axis=1).tolist()


def _completed(box: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``box`` widened (or heightened) to the predicted size along each axis where it fell short, kept at
    the edge that agrees with the prediction: the hidden edge is the one that moved."""
    out = box.copy()
    for lo, hi in ((0, 2), (1, 3)):
        size = predicted[hi] - predicted[lo]
        if box[hi] - box[lo] < PARTIAL * size:
            if abs(box[lo] - predicted[lo]) <= abs(box[hi] - predicted[hi]):
                out[hi] = box[lo] + size
            else:
                out[lo] = box[hi] - size
    return out


def _grown(boxes: np.ndarray, fraction: float) -> np.ndarray:
    w = (boxes[:, 2] - boxes[:, 0]) * fraction
    h = (boxes[:, 3] - boxes[:, 1]) * fraction
    return boxes + np.stack([-w, -h, w, h], axis=1)


def _fit_velocity(history: Sequence[tuple[float, float, float, float, float]], window: float) -> tuple[float, float] | None:
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


class ViewTrackers:
    """One :class:`Tracker` per view, a view being (camera id, PTZ preset id or ``None`` for a fixed camera).

    Analytics pause while a PTZ camera moves (the frame's preset is ``None``
    then); :meth:`camera_moved` resets every tracker of that camera, so that a
    return to a preset starts from a clean slate (ids still never repeat).
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._trackers: dict[tuple[str, str | None], Tracker] = {}

    def get(self, camera: str, preset: str | None) -> Tracker:
        key = (camera, preset)
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = self._trackers[key] = Tracker(self.config)
        return tracker

    def camera_moved(self, camera: str) -> None:
        for (cam, _), tracker in self._trackers.items():
            if cam == camera:
                tracker.reset()

    def forget(self, camera: str) -> None:
        """Drop the camera's trackers (it was removed, or analytics switched off for it)."""
        for key in [k for k in self._trackers if k[0] == camera]:
            del self._trackers[key]

    def views(self) -> list[tuple[str, str | None]]:
        return sorted(self._trackers, key=lambda k: (k[0], k[1] or ""))
