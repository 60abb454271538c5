"""Multi-object tracking: stable ids for the detector's boxes, frame after frame.

ByteTrack's association (Zhang et al., 2022) on a constant-velocity Kalman
filter (:mod:`core.analytics.motion`), with what the rules need on each track.
Every update:

1. all tracks are predicted to the frame's stream time;
2. confirmed tracks (seen now or lost a moment ago) take the high-score
   detections, by IoU with the predicted box (:func:`core.analytics.assignment.match`);
3. confirmed tracks still unmatched and seen last frame, or lost where they stood
   still, take the low-score detections: an object half hidden behind a bus scores
   low but is still the same object, so its track keeps its id instead of losing it,
   and a parked car seen again where it stood after a bus has passed is the same car;
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
   confirmed (and only then given an id) after ``min_hits`` matches; a low-score
   detection that nobody took, of a ``standing_labels`` label, found again in one
   place for ``standing_s`` (:mod:`core.analytics.standing`), starts a confirmed
   track from when it was first seen: a parked car the detector is never sure of;
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

import math
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.analytics import motion, partial_view
from core.analytics.assignment import boxes_array, iou_matrix, match
from core.analytics.standing import Promoted, StandingCandidates
from core.analytics.track import DetectionLike, Track, TrackState, WorkingTrack

__all__ = ["DetectionLike", "Track", "TrackState", "Tracker", "TrackerConfig", "ViewTrackers"]


class TrackerConfig(BaseModel):
    """The tracker's parameters; the defaults suit 2-10 fps traffic cameras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_score: float = Field(default=0.5, gt=0, le=1)  # at or above: a sure detection (stages 2 and 4)
    low_score: float = Field(default=0.1, ge=0, le=1)  # from here to high_score: only to keep a track (stage 3) ...
    # ... one that stands still; one that moves from this score: an unsure box near a moving track is as often another
    # object or nothing (SSD-MobileNet), and a track carried onto it turns, stops or reverses when the object did not
    moving_low_score: float = Field(default=0.3, ge=0, le=1)
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
    # a low-score box of these labels no track took, found in one place (IoU standing_iou) in standing_share of the
    # detector's runs for standing_s seconds, starts a track (core/analytics/standing.py); no labels: never
    standing_labels: tuple[str, ...] = ("car", "truck", "bus")
    standing_score: float = Field(default=0.15, ge=0, le=1)
    standing_keep_score: float = Field(default=0.1, ge=0, le=1)  # ... found again on boxes from this score
    standing_iou: float = Field(default=0.6, gt=0, le=1)
    standing_s: float = Field(default=3.0, ge=0, le=600)
    standing_share: float = Field(default=0.8, gt=0, le=1)
    standing_gap_s: float = Field(default=1.0, ge=0, le=60)  # ... unseen longer than this: gone
    # ... a box of at most this share of the picture (a car near the camera is a few percent; the detector's unsure
    # boxes over half a street of queueing cars are a third of it)
    standing_max_area: float = Field(default=0.1, gt=0, le=1)
    # ... and at most this many times as tall as it is wide: a parked vehicle seen from a pole is about 0.5-1.3; the
    # detector's faint "bus" over a stretch of road running up the picture is 2.5 (seed 1010's delivery stop)
    standing_max_aspect: float = Field(default=2.0, gt=0, le=20)
    history: int = Field(default=64, ge=2, le=10_000)  # positions kept per track
    stationary_fraction: float = Field(default=0.2, gt=0, le=2)  # moved: centre off by this much of the box's size
    velocity_window_s: float = Field(default=1.5, gt=0, le=60)  # speed: straight-line fit of the centres seen this long

    @model_validator(mode="after")
    def _order(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError(f"low_score ({self.low_score:g}) must not exceed high_score ({self.high_score:g})")
        if self.new_track_score < self.high_score:
            raise ValueError(f"new_track_score ({self.new_track_score:g}) must not be below high_score ({self.high_score:g})")
        if self.standing_keep_score > self.standing_score:
            raise ValueError(f"standing_keep_score ({self.standing_keep_score:g}) must not exceed standing_score "
                             f"({self.standing_score:g})")
        return self



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
        c = self.config
        self._standing = StandingCandidates(c.standing_labels, max(c.standing_score, c.low_score), c.standing_iou,
                                            c.standing_s, c.standing_share, c.standing_gap_s,
                                            max_aspect=c.standing_max_aspect,
                                            keep_score=c.standing_keep_score)
        self._tracks: list[WorkingTrack] = []
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._t: float | None = None

    @property
    def time(self) -> float | None:
        """Stream time of the last update, ``None`` before the first or after a reset."""
        return self._t

    def update(self, detections: Iterable[DetectionLike], t: float, picture: tuple[int, int] | None = None) -> list[Track]:
        """Take one frame's detections at stream time ``t`` (seconds); the confirmed tracks after it.

        ``picture`` (width, height), where known, bounds a standing candidate's size (``standing_max_area``).

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

        pairs, left_rows, left_high = self._associate(confirmed, high, cfg.match_iou, course_of=t)
        matched += pairs
        # a vehicle that stands takes boxes from low_score (a parked car seen from behind); a person who stands is
        # held to moving_low_score like anything moving: a pole or a shadow where someone stood is boxed as a person
        floor = max(cfg.moving_low_score, cfg.low_score)
        standing = [i for i in left_rows if tracks[i].standing() and tracks[i].label in cfg.standing_labels]
        # ... on a low box of a standing label only: the detector's faint boxes of a parked truck are "truck", "car"
        # and "train" by turns, and a vote tipped to "train" left it no vehicle (seed 1616: lost for 14 s)
        vehicle_low = [k for k, d in enumerate(low) if d.label in cfg.standing_labels]
        pairs, _, left_vl = self._associate(standing, [low[k] for k in vehicle_low], cfg.low_match_iou)
        matched += pairs
        used = set(vehicle_low) - {vehicle_low[k] for k in left_vl}
        low = [d for k, d in enumerate(low) if k not in used]
        found_standing = {i for i, _ in pairs}
        moving = [i for i in left_rows if tracks[i].state == "tracked" and i not in found_standing]
        surer = [k for k, d in enumerate(low) if d.score >= floor]
        pairs, _, left_surer = self._associate(moving, [low[k] for k in surer], cfg.low_match_iou)
        matched += pairs
        used = set(surer) - {surer[k] for k in left_surer}
        low = [d for k, d in enumerate(low) if k not in used]
        high = [high[i] for i in left_high]
        pairs, left_tentative, left_high = self._associate(tentative, high, cfg.tentative_match_iou, cfg.tentative_buffer)
        matched += pairs
        high = [high[i] for i in left_high]
        if high and cfg.gate_sizes > 0:
            taken = {i for i, _ in matched}
            for rows in ([i for i in confirmed if i not in taken], left_tentative):
                pairs, high = self._gated(rows, high, t)
                matched += pairs

        # what may hide part of a matched object: a box a track took, or one from moving_low_score (the faint boxes
        # that crowd a car on the default detector would make every box look half hidden, and its filter drift)
        mine = {id(d) for _, d in matched}
        self._correct(matched, [d for d in valid if d.score >= floor or id(d) in mine], t)
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
        unsure = low + [d for d in high if d.score < cfg.new_track_score]
        owned = boxes_array([tr.box for tr in self._tracks]) if self._tracks else np.zeros((0, 4))
        most = cfg.standing_max_area * picture[0] * picture[1] if picture else None
        vehicles = [tr.box for tr in self._tracks if tr.state != "tentative" and tr.label in cfg.standing_labels]
        self._promote(self._standing.update(unsure, owned, t, most, boxes_array(vehicles) if vehicles else None), t)
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
        self._standing.hold(t)
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
        self,
        rows: list[int],
        dets: Sequence[DetectionLike],
        threshold: float,
        buffer: float = 0.0,
        course_of: float | None = None,
    ) -> tuple[list[tuple[int, DetectionLike]], list[int], list[int]]:
        if not rows or not dets:
            return [], rows, list(range(len(dets)))
        predicted = motion.to_xyxy(self._mean[rows])
        boxes = boxes_array([d.box for d in dets])
        if course_of is not None:
            # where its filter says, or its last box carried along its own recent course: one odd box (a tile's
            # half of a car) teaches the filter a size rate that shrinks or swells its prediction past any IoU
            # (a track that stands is awaited where it stood; one unseen long is left to its filter)
            iou = iou_matrix(predicted, boxes)
            moving = [k for k, i in enumerate(rows) if self._on_course(self._tracks[i], course_of)]
            if moving:
                iou[moving] = np.maximum(iou[moving], iou_matrix(self._courses([rows[k] for k in moving], course_of), boxes))
        elif buffer:
            # a new track has no speed yet: at a few frames a second a small fast object moves off its own box,
            # so both boxes are grown before they are compared (buffered IoU, Yang et al. 2023)
            predicted, boxes = partial_view.grown(predicted, buffer), partial_view.grown(boxes, buffer)
            iou = iou_matrix(predicted, boxes)
        else:
            iou = iou_matrix(predicted, boxes)
        weight = iou
        if self.config.label_mismatch_weight < 1:
            tracks = self._tracks
            same = np.array([[tracks[i].label == d.label for d in dets] for i in rows])
            weight = np.where(same, iou, iou * self.config.label_mismatch_weight)
        pairs, left_rows, cols = match(iou, threshold, weight)
        return [(rows[r], dets[c]) for r, c in pairs], [rows[r] for r in left_rows], cols

    def _on_course(self, tr: WorkingTrack, t: float) -> bool:
        return tr.velocity is not None and not tr.standing() and t - tr.last_seen <= self.config.gate_unseen_s

    def _courses(self, rows: list[int], t: float) -> np.ndarray:
        """Each track's last box moved along its ``course`` to time ``t``, its size kept.

        The course is its fitted speed at the last box's size (:func:`core.analytics.track.perspective_scale`): in
        perspective a car driving away slows down in the picture as it shrinks, at the same speed on the road.
        """
        tracks = self._tracks
        boxes = boxes_array([tracks[i].box for i in rows])
        course = np.array([tracks[i].course for i in rows], dtype=float)
        dt = np.maximum(t - np.array([tracks[i].last_seen for i in rows]), 0.0)[:, None]
        step = course * dt
        return boxes + np.concatenate([step, step], axis=1)

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
        covered = partial_view.covered(boxes, [d for _, d in matched], dets)
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
                boxes[k] = partial_view.completed(boxes[k], np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
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
            tr = WorkingTrack(det, t, self.config.history)
            tr.observe(det, t, "moved", self.config.velocity_window_s, True)
            if self.config.min_hits <= 1:
                tr.id = self._next_id
                self._next_id += 1
                tr.state = "tracked"
            self._tracks.append(tr)

    def _promote(self, promoted: list[Promoted], t: float) -> None:
        """Standing candidates become confirmed tracks, standing since they were first seen."""
        if not promoted:
            return
        start = len(self._tracks)
        self._start([p.det for p in promoted], t)
        for tr, p in zip(self._tracks[start:], promoted):
            tr.first_seen = tr.stationary_since = p.first
            tr.history.clear()
            tr.history.extend((seen_t, *box) for seen_t, box in p.seen)
            tr.last_seen = p.seen[-1][0]
            tr.hits = tr.streak = tr.anchor_n = len(p.seen)
            tr.anchor_sum = p.box * len(p.seen)
            tr.id = self._next_id
            self._next_id += 1
            tr.state = "tracked"


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
