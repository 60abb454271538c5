"""The illegal-parking rule as a state machine: frames and tracks in, violations out.

Pure computation: no I/O, no clock of its own, no image. The analyzer feeds it,
for each frame of a camera, the frame's facts (:class:`FrameInfo`), the
confirmed tracks of that view's tracker and the camera's zones for the preset,
and publishes what :meth:`ParkingRule.update` returns. One thread per rule.

A **stay** is one vehicle standing in watched zones. Its timer (``dwell``, per
zone) counts **time the camera looked**, taken from stream time between
consecutive frames, and only while the zone's hours apply (wall time, local
zone). Durations never use wall time, so a clock step neither fires nor repeats
anything; windows never use stream time.

- A stay starts when a vehicle track has stood still ``min_still_s`` inside a
  watched zone (and in no queue-kind one); its timer starts from when it stopped.
- It survives jitter (the tracker's ``stationary_since`` ignores it) and
  occlusion: a hidden (``lost``) track keeps its timer running ``occlusion_s``
  while something seen now stands in front of it (a box covering ``cover_share``
  of its own: a bus passing or stopped before it), and ``miss_s`` with nothing
  in front (the detector missed it a moment). Unseen longer, with nothing that
  could hide it, the vehicle may have driven off unseen: the timer waits (the
  stay is kept, and counts again once the vehicle is seen or covered).
- It ends when the vehicle moves (``stationary_since`` changes) or stands
  outside every watched zone for ``leave_s``: coming back starts a new stay.
- It fires once, when a zone's timer reaches the zone's threshold and the
  vehicle is in sight (due while it is hidden, it waits to see it); a vehicle
  that stays is never reported again, also not on the camera's next visit.
  One vehicle, one violation: a stay about to fire on the spot (``rematch_iou``)
  of a stay that fired and is still kept (its track lost, or suspended for at
  most ``occlusion_s``) is the same vehicle under a second track (a detector's second box, a track
  born while the first was lost): it is marked fired and nothing is sent.
- **PTZ and tours**: when the camera leaves the preset (or the stream breaks,
  or the tracker drops the track) the stay is *suspended* with its timer. A
  new track on that view claims it when it stands at the same spot
  (``rematch_iou``), of the same class, and has stood still since it was first
  seen (it was there when the camera came back, it did not drive in), within
  ``ptz_grace_s`` of the camera's own stream time. The time away is not
  counted: a car on a tour's preset seen 20 s every 90 s reaches 120 s of
  looked time after about nine minutes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from core.analytics.assignment import intersection, iou
from core.analytics.tracker import Track
from core.analytics.zones import Zone, ZoneKind
from core.events.types import Event, Snapshot
from plugins.parking_rule.config import Config

Box = tuple[float, float, float, float]
EVENT_KIND = "parking.violation"
_EPS = 1e-6


@dataclass(frozen=True)
class FrameInfo:
    """What the rule reads of a frame: the frame hub's facts, no pixels.

    ``ref`` is the analyzer's handle on the picture (the hub's frame number):
    the rule names the ref of each stay's best view, and the analyzer keeps
    those pictures (:meth:`ParkingRule.refs_in_use`) for the snapshot.
    """

    camera_id: str
    preset: str | None
    stream_time: float  # seconds, the stream's own clock
    wall_time: datetime  # aware; only for the zones' hours
    width: int
    height: int
    ref: Hashable = None


@dataclass(frozen=True)
class View:
    """One sighting of a vehicle: the frame it was in and its box there."""

    ref: Hashable
    preset: str | None
    stream_time: float
    wall_time: datetime
    box: Box
    score: float


@dataclass(frozen=True)
class Violation:
    """One vehicle past its zone's threshold: everything the event and the evidence need."""

    camera_id: str
    preset: str | None
    zone_id: str
    zone_kind: str
    track_id: int
    label: str
    dwell_s: float  # looked time standing in the zone, in its hours
    threshold_s: float
    elapsed_s: float  # camera time from arrival to now, looked or not
    visits: int  # camera visits the stay spanned (1 for a fixed camera)
    legal_basis: dict[str, Any]
    arrived_stream: float
    arrived_wall: datetime
    stream_time: float
    wall_time: datetime
    best: View  # the largest, most confident sighting: the snapshot
    crop: Box  # where to read the plate: the best box grown, inside the picture
    views: tuple[View, ...] = ()  # the best ``plate_frames`` sightings, best first: what the plate is read from

    def detail(self) -> dict[str, Any]:
        return {
            "dwell_s": round(self.dwell_s, 2),
            "threshold_s": self.threshold_s,
            "elapsed_s": round(self.elapsed_s, 2),
            "visits": self.visits,
            "class": self.label,
            "zone_kind": self.zone_kind,
            "legal_basis": self.legal_basis,
            "snapshot_frame": {
                "ref": self.best.ref if isinstance(self.best.ref, (int, str)) else None,
                "preset": self.best.preset,
                "stream_time": round(self.best.stream_time, 3),
                "wall_time": self.best.wall_time.isoformat(),
                "box": [round(v, 1) for v in self.best.box],
                "score": round(self.best.score, 3),
            },
            "plate_crop": [round(v, 1) for v in self.crop],
            "clip": {
                "from_stream_s": round(self.arrived_stream, 3),
                "to_stream_s": round(self.stream_time, 3),
                "from_wall": self.arrived_wall.isoformat(),
                "to_wall": self.wall_time.isoformat(),
                "pre_s": round(self.elapsed_s, 2),
            },
        }

    def event(self, snapshot: Snapshot | None = None, clip_id: str | None = None) -> Event:
        """The ``parking.violation`` event; the core sets agency, area and mode (education or enforcement)."""
        return Event(
            kind=EVENT_KIND,
            camera_id=self.camera_id,
            preset_id=self.preset,
            wall_time=self.wall_time,
            stream_time=max(self.stream_time, 0.0),
            zone_id=self.zone_id,
            track_id=self.track_id,
            detail=self.detail(),
            snapshot=snapshot,
            clip_id=clip_id,
        )


class _Stay:
    __slots__ = (
        "track_id", "label", "still_since", "dwell", "out_s", "fired", "box", "best",
        "arrived_stream", "arrived_clock", "visits", "suspended_at", "views",
    )

    def __init__(self, track: Track, clock: float, now_stream: float) -> None:
        self.track_id: int | None = track.id
        self.label = track.label
        self.still_since = track.stationary_since
        self.dwell: dict[str, float] = {}
        self.out_s = 0.0
        self.fired = False
        self.box: Box = track.box
        self.best: View | None = None
        self.arrived_stream = track.first_seen
        self.arrived_clock = clock - max(now_stream - track.first_seen, 0.0)
        self.visits = 1
        self.suspended_at: float | None = None  # camera clock when suspended
        self.views: list[View] = []  # the best few sightings, best first, one per frame


@dataclass
class _ViewState:
    stays: dict[int, _Stay] = field(default_factory=dict)  # by track id
    suspended: list[_Stay] = field(default_factory=list)
    looked: float = 0.0  # looked time since this visit began


@dataclass
class _Camera:
    clock: float = 0.0  # the camera's own time: stream time, continued across breaks
    stream: float | None = None
    wall: datetime | None = None
    preset: str | None = None
    views: dict[str | None, _ViewState] = field(default_factory=dict)


class ParkingRule:
    """The rule's state for every camera of one analyzer; ``tz`` is the deployment's time zone."""

    def __init__(self, config: Config, tz: tzinfo | str) -> None:
        self.config = config
        self.tz = tz
        self._cameras: dict[str, _Camera] = {}
        self._windows = tuple(w.window() for w in config.windows)
        self._effective: dict[Zone, Zone] = {}
        self._vehicles = frozenset(config.watched_labels)

    # --- the frame ------------------------------------------------------------

    def update(self, frame: FrameInfo, tracks: Iterable[Track], zones: Sequence[Zone]) -> list[Violation]:
        """Take one frame's confirmed tracks and the camera's zones for ``frame.preset``; violations now due."""
        cfg = self.config
        if not math.isfinite(frame.stream_time):
            return []  # a frame without a usable time cannot advance any timer
        cam = self._cameras.setdefault(frame.camera_id, _Camera())
        looked, broke = self._advance(cam, frame)
        if broke or frame.preset != cam.preset:
            self._suspend_view(cam, cam.preset)
            if broke:
                self._suspend_view(cam, frame.preset)
            cam.preset = frame.preset
            cam.views.setdefault(frame.preset, _ViewState()).looked = 0.0
        view = cam.views.setdefault(frame.preset, _ViewState())
        view.looked += looked
        self._expire(cam)

        watched = [z for z in zones if z.kind.value in cfg.kinds]
        queues = [z for z in zones if z.kind.value in cfg.queue_kinds]
        active = {z.id for z in watched if self._active(z, frame.wall_time)}
        out: list[Violation] = []
        seen: set[int] = set()
        tracks = list(tracks)
        in_sight = [t.box for t in tracks if t.state == "tracked"]
        for track in tracks:
            if track.label not in self._vehicles:
                continue
            seen.add(track.id)
            violation = self._track(cam, view, frame, track, watched, queues, active, looked, in_sight)
            if violation is not None:
                out.append(violation)
        for track_id in [i for i in view.stays if i not in seen]:
            self._suspend(cam, view, track_id)  # the tracker let it go: claimable at the same spot
        return out

    def refs_in_use(self) -> set[Hashable]:
        """Frame refs some unreported stay may still take its snapshot from: keep those pictures."""
        refs: set[Hashable] = set()
        for cam in self._cameras.values():
            for view in cam.views.values():
                for stay in (*view.stays.values(), *view.suspended):
                    if not stay.fired and stay.best is not None:
                        refs.add(stay.best.ref)
        return refs

    def views_in_use(self, camera_id: str) -> set[tuple[Hashable, Box]]:
        """``(ref, box)`` of the sightings some unreported stay of the camera may read its plate from:
        the analyzer keeps those crops."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            return set()
        return {
            (v.ref, v.box)
            for view in cam.views.values()
            for stay in (*view.stays.values(), *view.suspended)
            if not stay.fired
            for v in stay.views
        }

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it was removed)."""
        self._cameras.pop(camera_id, None)

    # --- steps ----------------------------------------------------------------

    def _advance(self, cam: _Camera, frame: FrameInfo) -> tuple[float, bool]:
        """Looked time since the camera's last frame, and whether the stream broke in between."""
        cfg = self.config
        looked, broke = 0.0, False
        if cam.stream is not None and cam.wall is not None:
            step = frame.stream_time - cam.stream
            if 0.0 <= step <= cfg.max_frame_gap_s:
                looked = step
                cam.clock += step
            else:
                # the stream restarted (time went back) or stalled: nobody looked, and only the wall clock
                # says how long. One that went back too tells nothing: counted as no time away, so that a
                # reported vehicle still standing there is not reported again
                broke = True
                cam.clock += max((frame.wall_time - cam.wall).total_seconds(), 0.0)
        cam.stream, cam.wall = frame.stream_time, frame.wall_time
        return looked, broke

    def _active(self, zone: Zone, when: datetime) -> bool:
        if not zone.windows and self._windows:
            effective = self._effective.get(zone)
            if effective is None:
                effective = self._effective[zone] = zone.model_copy(update={"windows": self._windows})
            zone = effective
        return zone.active_at(when, self.tz)

    def _track(
        self,
        cam: _Camera,
        view: _ViewState,
        frame: FrameInfo,
        track: Track,
        watched: list[Zone],
        queues: list[Zone],
        active: set[str],
        looked: float,
        in_sight: list[Box],
    ) -> Violation | None:
        cfg = self.config
        inside = [z for z in watched if z.contains_box(track.box, frame.width, frame.height)]
        excused = any(z.contains_box(track.box, frame.width, frame.height) for z in queues)
        stay = view.stays.get(track.id)
        if stay is not None and track.stationary_since > stay.still_since + _EPS:
            del view.stays[track.id]  # it moved: whatever comes next is a new stay
            stay = None
        if stay is None:
            if not inside or excused or track.state != "tracked" or track.stationary_s < cfg.min_still_s:
                return None
            stay = self._claim(cam, view, track) or _Stay(track, cam.clock, frame.stream_time)
            view.stays[track.id] = stay
            # it stood here since it stopped (or since the camera came back), before the rule saw it
            looked = min(track.stationary_s, view.looked)
        if inside:
            stay.out_s = 0.0
        else:
            stay.out_s += looked
            if stay.out_s > cfg.leave_s:
                del view.stays[track.id]
                return None
        visible = track.state == "tracked"
        if visible:
            stay.box = track.box
            best = stay.best
            sighting = View(frame.ref, frame.preset, frame.stream_time, frame.wall_time, track.box, track.score)
            if best is None or _quality(sighting) > _quality(best):
                stay.best = sighting
            kept = stay.views
            if cfg.plate_frames and (len(kept) < cfg.plate_frames or _quality(sighting) > _quality(kept[-1])):
                stay.views = sorted([*stay.views, sighting], key=_quality, reverse=True)[: cfg.plate_frames]
        counting = not excused and (visible or self._hidden(track, frame.stream_time, in_sight))
        if not counting or stay.fired:
            return None
        for zone in inside:
            if zone.id not in active:
                continue
            dwell = stay.dwell[zone.id] = stay.dwell.get(zone.id, 0.0) + looked
            threshold = cfg.threshold(zone.kind.value, zone.dwell_s)
            if dwell + _EPS >= threshold:
                if not visible:
                    # due while hidden: the violation waits to see the vehicle (its evidence must show it); one that
                    # left unseen behind what covered it (a courier's van driving off over its own spot) is no
                    # violation (seed 202's and 606's delivery_stop)
                    continue
                stay.fired = True
                if self._reported(cam, view, stay):
                    return None
                return self._violation(cam, frame, track, stay, zone, dwell, threshold)
        return None

    def _hidden(self, track: Track, now: float, in_sight: list[Box]) -> bool:
        """A lost vehicle that is still there, as far as the camera can tell: missed a moment, or covered."""
        unseen = now - track.last_seen
        if unseen <= self.config.miss_s:
            return True
        area = _area(track.box)
        return unseen <= self.config.occlusion_s and any(
            intersection(track.box, box) >= self.config.cover_share * area for box in in_sight
        )

    def _reported(self, cam: _Camera, view: _ViewState, stay: _Stay) -> bool:
        """A stay that fired stands on this one's spot: the same vehicle, already reported."""
        cfg = self.config
        recent = [s for s in view.suspended if cam.clock - (s.suspended_at or 0.0) <= cfg.occlusion_s]
        return any(
            other is not stay and other.fired and iou(other.box, stay.box) >= cfg.rematch_iou
            for other in (*view.stays.values(), *recent)
        )

    def _claim(self, cam: _Camera, view: _ViewState, track: Track) -> _Stay | None:
        """A suspended stay this track continues: same spot, same class, standing since it appeared."""
        cfg = self.config
        if track.stationary_since - track.first_seen > cfg.rematch_still_s:
            return None  # seen arriving: a new vehicle, not the one that stood here
        best, best_iou = None, cfg.rematch_iou
        for stay in view.suspended:
            overlap = iou(stay.box, track.box)
            if stay.label == track.label and overlap >= best_iou:
                best, best_iou = stay, overlap
        if best is None:
            return None
        view.suspended.remove(best)
        best.track_id = track.id
        best.still_since = track.stationary_since
        best.out_s = 0.0
        best.suspended_at = None
        best.visits += 1
        return best

    def _suspend(self, cam: _Camera, view: _ViewState, track_id: int) -> None:
        stay = view.stays.pop(track_id)
        stay.track_id = None
        stay.suspended_at = cam.clock
        view.suspended.append(stay)

    def _suspend_view(self, cam: _Camera, preset: str | None) -> None:
        view = cam.views.get(preset)
        if view is not None:
            for track_id in list(view.stays):
                self._suspend(cam, view, track_id)

    def _expire(self, cam: _Camera) -> None:
        grace = self.config.ptz_grace_s
        for preset, view in list(cam.views.items()):
            view.suspended = [s for s in view.suspended if cam.clock - (s.suspended_at or 0.0) <= grace]
            if not view.stays and not view.suspended and preset != cam.preset:
                del cam.views[preset]

    def _violation(
        self, cam: _Camera, frame: FrameInfo, track: Track, stay: _Stay, zone: Zone, dwell: float, threshold: float
    ) -> Violation:
        cfg = self.config
        best = stay.best or View(frame.ref, frame.preset, frame.stream_time, frame.wall_time, track.box, track.score)
        elapsed = max(cam.clock - stay.arrived_clock, 0.0)
        return Violation(
            camera_id=frame.camera_id,
            preset=frame.preset,
            zone_id=zone.id,
            zone_kind=zone.kind.value,
            track_id=track.id,
            label=stay.label,
            dwell_s=dwell,
            threshold_s=threshold,
            elapsed_s=elapsed,
            visits=stay.visits,
            legal_basis=cfg.kinds[zone.kind.value].legal_basis.model_dump(),
            arrived_stream=stay.arrived_stream if stay.visits == 1 else frame.stream_time - elapsed,
            arrived_wall=frame.wall_time - timedelta(seconds=elapsed),
            stream_time=frame.stream_time,
            wall_time=frame.wall_time,
            best=best,
            crop=grown(best.box, cfg.crop_margin, frame.width, frame.height),
            views=tuple(stay.views),
        )


def _quality(view: View) -> float:
    """Largest box times score: nearest, clearest, unhidden."""
    return _area(view.box) * view.score


def _area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def grown(box: Box, margin: float, width: int, height: int) -> Box:
    dx, dy = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    return (max(box[0] - dx, 0.0), max(box[1] - dy, 0.0), min(box[2] + dx, float(width)), min(box[3] + dy, float(height)))


def kinds_watched(config: Config) -> tuple[ZoneKind, ...]:
    """The zone kinds the rule watches, for an analyzer that asks the zone store only for those."""
    return tuple(ZoneKind(k) for k in config.kinds)
