"""Crime watch as a state machine: frames and tracks in, alerts out.

Pure computation: no I/O, no clock of its own, no image. The analyzer feeds it,
for each frame of a camera, the frame's facts (:class:`FrameInfo`), the
confirmed tracks of that view and the camera's zones for the preset, and
publishes what :meth:`CrimeRule.update` returns. Durations are stream time
between consecutive frames (the time the camera looked); zone hours are wall
time in the deployment's zone. So a clock step neither fires nor repeats an
alert, and a stream that breaks (time going back, or a gap over
``max_frame_gap_s``) counts no time.

Four behaviours, each in a watched (``watched_kinds``) or restricted
(``restricted_kinds``) zone, each one alert per occurrence:

- **loitering**: a person in a watched area, in its hours, ``loiter_s`` (a
  zone's ``dwell_s`` wins). Hidden (``lost``) the timer runs ``occlusion_s``;
  a track the tracker drops, or still holds as lost, is continued by a new
  track that appears within ``rematch_s`` and ``rematch_heights`` box heights
  of where it was lost (a real detector misses a person for seconds, and the
  tracker starts a new track before it lets the old one go); the held track
  whose stay a new track took starts no second stay while it stays lost. A
  person who walks out of the picture (at its edge, their speed carrying
  their centre across it within ``EXIT_S``) has left: the stay ends, and nobody
  continues it (the tracker may give that id to someone walking in at the same
  edge). A person standing in a crowd that was reported is part of that alert,
  not a loiterer; while a gathering in the zone is being counted (``crowd_s``),
  loitering there waits for its verdict. One person, one alert: a stay about to fire on the spot
  (``rematch_heights``) of a stay of the zone that fired and whose person is
  still there, or was lost within ``rematch_s``, is that person's second track
  (a detector's second box, a track born on a lost one): it is marked fired,
  and nothing is sent; so is a stay that begins on such a spot.
- **crowd**: at least ``crowd_size`` people in one watched area for ``crowd_s``;
  the gathering is over when fewer than ``crowd_size - crowd_hysteresis`` have
  stood there for ``crowd_clear_s``: one alert per gathering.
- **restricted area**: a person in a restricted area, in the zone's hours (its
  ``windows``; none: always), for ``restricted_s``: one alert per stay.
- **running**: ``min_runners`` people in a watched area who break into a run
  (speed at least ``run_speed`` box heights a second, having been at most
  ``calm_speed`` within ``onset_s`` before) within ``run_window_s`` of each
  other. Box heights make the speed the same near and far; a jogger is one,
  and a group that was running when it came into view never was calm. A
  runner's track often breaks at the first stride (the tracker's filter had it
  standing): a new track that appears where a calm one was lost inherits its
  calm, as does one that appears where someone stood calm whose track has left
  the spot (in a group the tracker swaps ids as it breaks into a run). After an alert the zone waits for nobody to run for ``run_clear_s``.

Boxes are read and kept (the tracker's, by id), and with a loitering stay the
mean colour of its person's shirt (``FrameInfo.colours``, clothing.py), so that
a new track dressed plainly otherwise does not continue it: no picture, no face,
nothing stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import tzinfo as TzInfo
from typing import Any

from core.analytics.assignment import iou
from core.analytics.track import fit_velocity
from core.analytics.tracker import Track
from core.analytics.zones import Zone
from core.events.types import Event, Snapshot
from plugins.crime_watch import clothing
from plugins.crime_watch.clothing import Colour
from plugins.crime_watch.config import Config

Box = tuple[float, float, float, float]
VACATED_IOU = 0.3  # a calm spot its track overlaps less than this (or lost) has been left
EXIT_S = 1.0  # a person at the picture's edge whose centre crosses it within this long at its speed walks out
EXIT_MARGIN = 0.1  # ... "at the edge": within this share of the box's height of it
CROWD_DRIFT_S = 3.0  # a person's drift in a crowd: a line fitted through this long of boxes

LOITERING, CROWD, RESTRICTED, RUNNING = "crime.loitering", "crime.crowd", "crime.restricted_area", "crime.running"
_EPS = 1e-6


@dataclass(frozen=True)
class FrameInfo:
    """What the rule reads of a frame: the frame hub's facts, no pixels."""

    camera_id: str
    preset: str | None
    stream_time: float  # seconds, the stream's own clock
    wall_time: datetime  # aware; only for the zones' hours
    width: int
    height: int
    # the upper-body colour of the people tracked in the frame, by track id (clothing.py): only to keep a new track
    # from continuing the stay of someone else lost on its spot; none known: boxes alone decide
    colours: Mapping[int, Colour] | None = None


@dataclass(frozen=True)
class Alert:
    """One thing crime watch reports: everything the event, the snapshot and the clip need."""

    kind: str  # crime.loitering, crime.crowd, crime.restricted_area, crime.running
    camera_id: str
    preset: str | None
    zone_id: str
    zone_kind: str
    track_ids: tuple[int, ...]  # the people it is about (the first is the event's track)
    boxes: tuple[Box, ...]  # their boxes in this frame (as last seen): what the snapshot draws
    stream_time: float
    wall_time: datetime
    since_s: float  # how long before now it began (the stay, the gathering, the run): the clip's reach
    priority: str
    facts: dict[str, Any]  # the behaviour's own numbers

    @property
    def label(self) -> str:
        return self.kind.split(".", 1)[1].replace("_", " ")

    def detail(self) -> dict[str, Any]:
        return {
            **self.facts,
            "zone_kind": self.zone_kind,
            "people": len(self.track_ids),
            "tracks": list(self.track_ids),
            "boxes": [[round(v, 1) for v in box] for box in self.boxes],
            "since_s": round(self.since_s, 2),
        }

    def event(self, snapshot: Snapshot | None = None, clip_id: str | None = None) -> Event:
        """The event; the core sets agency, area and mode (education or enforcement)."""
        return Event(
            kind=self.kind,
            camera_id=self.camera_id,
            preset_id=self.preset,
            wall_time=self.wall_time,
            stream_time=max(self.stream_time, 0.0),
            zone_id=self.zone_id,
            track_id=self.track_ids[0] if self.track_ids else None,
            detail=self.detail(),
            snapshot=snapshot,
            clip_id=clip_id,
            priority=self.priority,  # type: ignore[arg-type]
        )


class _Stay:
    """One person in one zone (watched or restricted)."""

    __slots__ = ("track_id", "dwell", "out_s", "box", "fired", "crowded", "began", "lost_at", "colour")

    def __init__(self, track: Track, clock: float) -> None:
        self.track_id: int | None = track.id
        self.dwell = 0.0
        self.out_s = 0.0
        self.box: Box = track.box
        self.fired = False
        self.crowded = False
        self.began = clock  # camera clock
        self.lost_at: float | None = None  # camera clock when its track went away
        self.colour: Colour | None = None  # its person's clothes (clothing.py), while seen


@dataclass
class _Gathering:
    counting: bool = False
    above_s: float = 0.0
    below_s: float = 0.0
    alerted: bool = False
    began: float = 0.0


@dataclass
class _Runs:
    runners: dict[int, float] = field(default_factory=dict)  # track id -> camera clock it broke into a run
    alerted: bool = False
    idle_s: float = 0.0


@dataclass
class _View:
    stays: dict[tuple[str, int], _Stay] = field(default_factory=dict)  # (zone id, track id)
    suspended: list[tuple[str, _Stay]] = field(default_factory=list)
    gatherings: dict[str, _Gathering] = field(default_factory=dict)
    runs: dict[str, _Runs] = field(default_factory=dict)
    calm_at: dict[int, float] = field(default_factory=dict)  # track id -> camera clock it was last calm
    lost_calm: dict[int, tuple[float, float, Box]] = field(default_factory=dict)  # track id -> lost at, calm at, box
    calm_spots: dict[int, tuple[float, Box]] = field(default_factory=dict)  # track id -> camera clock, box: last calm
    known: set[int] = field(default_factory=set)  # track ids of the last frame (the tracker lists a track until it drops it)
    boxes: dict[int, Box] = field(default_factory=dict)  # last box of each person seen last frame
    handed: set[int] = field(default_factory=set)  # lost tracks whose stays a new track continues: that person now
    calm_given: set[int] = field(default_factory=set)  # lost tracks whose calm a new track inherited: not offered again


@dataclass
class _Camera:
    clock: float = 0.0  # the camera's own time: stream time, continued across breaks
    stream: float | None = None
    wall: datetime | None = None
    preset: str | None = None
    view: _View = field(default_factory=_View)


def _height(box: Box) -> float:
    return max(box[3] - box[1], 1.0)


def _centre(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _at_edge(box: Box, width: int, height: int) -> bool:
    """Lost at the picture's edge: it walked out of view, it is not hidden."""
    return box[0] <= 2 or box[1] <= 2 or box[2] >= width - 2 or box[3] >= height - 2


def _walking_out(track: Track, width: int, height: int) -> bool:
    """At the picture's edge, and its speed carries its centre across that edge within ``EXIT_S``."""
    x1, y1, x2, y2 = track.box
    vx, vy = track.velocity
    cx, cy = _centre(track.box)
    margin = EXIT_MARGIN * _height(track.box)
    return (
        (vx < 0 and x1 <= margin and cx + vx * EXIT_S <= 0)
        or (vx > 0 and x2 >= width - margin and cx + vx * EXIT_S >= width)
        or (vy < 0 and y1 <= margin and cy + vy * EXIT_S <= 0)
        or (vy > 0 and y2 >= height - margin and cy + vy * EXIT_S >= height)
    )


def _nearest(candidates: Iterable[tuple[int, float, Box]], start: Box, appeared: float) -> int | None:
    """Of (track id, camera clock, box) where someone was, the nearest to ``start`` that a sprinter could have
    left for it (4 box heights a second since then, and a stride more); ``None`` if none is in reach."""
    best, best_d = None, math.inf
    for track_id, when, box in candidates:
        reach = _height(box) * (1.0 + 4.0 * max(appeared - when, 0.2))
        d = _apart(box, start)
        if d <= reach and d < best_d:
            best, best_d = track_id, d
    return best


def _apart(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    return math.hypot(ax - bx, ay - by)


class CrimeRule:
    """The rule's state for every camera of one analyzer; ``tz`` is the deployment's time zone."""

    def __init__(self, config: Config, tz: TzInfo | str) -> None:
        self.config = config
        self.tz = tz
        self._cameras: dict[str, _Camera] = {}
        self._people = frozenset(config.watched_labels)
        self._loiter_windows = tuple(w.window() for w in config.loiter_windows)
        self._with_hours: dict[Zone, Zone] = {}

    def update(self, frame: FrameInfo, tracks: Iterable[Track], zones: Sequence[Zone]) -> list[Alert]:
        """Take one frame's confirmed tracks and the camera's zones for ``frame.preset``; the alerts now due."""
        cfg = self.config
        if not math.isfinite(frame.stream_time):
            return []
        cam = self._cameras.setdefault(frame.camera_id, _Camera())
        looked, broke = self._advance(cam, frame)
        if broke or frame.preset != cam.preset:
            cam.view = _View(suspended=self._suspended_all(cam) if frame.preset == cam.preset else [])
            cam.preset = frame.preset
        view = cam.view
        people = [t for t in tracks if t.label in self._people]
        current = {t.id for t in people}
        for track_id in [i for i in view.boxes if i not in current]:
            self._gone(cam, view, track_id)
        view.boxes = {t.id: t.box for t in people}
        view.handed &= current
        view.calm_given &= current
        view.suspended = [(z, s) for z, s in view.suspended if cam.clock - (s.lost_at or 0.0) <= cfg.rematch_s]
        view.lost_calm = {i: r for i, r in view.lost_calm.items() if cam.clock - r[1] <= cfg.onset_s}
        view.calm_spots = {i: r for i, r in view.calm_spots.items() if cam.clock - r[0] <= cfg.onset_s}

        watched = [z for z in zones if z.kind.value in cfg.watched_kinds]
        restricted = [z for z in zones if z.kind.value in cfg.restricted_kinds]
        out: list[Alert] = []
        for zone in watched:
            inside = self._inside(zone, people, frame, cam.clock)
            if zone.active_at(frame.wall_time, self.tz):
                out += self._crowd(cam, view, frame, zone, inside, looked)
                out += self._running(cam, view, frame, zone, inside, looked)
            loiter_active = self._loitering_hours(zone).active_at(frame.wall_time, self.tz)
            threshold = zone.dwell_s if zone.dwell_s is not None else cfg.loiter_s
            out += self._stays(cam, view, frame, zone, people, inside, looked, loiter_active, threshold, LOITERING)
        for zone in restricted:
            inside = self._inside(zone, people, frame, cam.clock)
            active = zone.active_at(frame.wall_time, self.tz)
            out += self._stays(cam, view, frame, zone, people, inside, looked, active, cfg.restricted_s, RESTRICTED)
        self._motion(cam, view, people)
        view.known = current
        return out

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it was removed)."""
        self._cameras.pop(camera_id, None)

    # --- time and tracks ------------------------------------------------------

    def _advance(self, cam: _Camera, frame: FrameInfo) -> tuple[float, bool]:
        """Looked time since the camera's last frame, and whether the stream broke in between."""
        looked, broke = 0.0, False
        if cam.stream is not None and cam.wall is not None:
            step = frame.stream_time - cam.stream
            if 0.0 <= step <= self.config.max_frame_gap_s:
                looked = step
                cam.clock += step
            else:
                broke = True  # nobody looked; the wall clock says how long, unless it went back too
                cam.clock += max((frame.wall_time - cam.wall).total_seconds(), 0.0)
        cam.stream, cam.wall = frame.stream_time, frame.wall_time
        return looked, broke

    def _suspended_all(self, cam: _Camera) -> list[tuple[str, _Stay]]:
        """Every stay of the view, waiting for its person's new track (the stream broke: the tracker restarts)."""
        view = cam.view
        for key in list(view.stays):
            self._suspend(cam, view, key)
        return view.suspended

    def _suspend(self, cam: _Camera, view: _View, key: tuple[str, int]) -> None:
        stay = view.stays.pop(key)
        stay.track_id, stay.lost_at = None, cam.clock
        view.suspended.append((key[0], stay))

    def _gone(self, cam: _Camera, view: _View, track_id: int) -> None:
        """The tracker let a person go: its stays wait for a new track at the same spot; its calm is remembered."""
        for key in [k for k in view.stays if k[1] == track_id]:
            self._suspend(cam, view, key)
        calm = view.calm_at.pop(track_id, None)
        if calm is not None and track_id not in view.lost_calm and track_id not in view.calm_given:
            view.lost_calm[track_id] = (cam.clock, calm, view.boxes[track_id])

    def _inside(self, zone: Zone, people: list[Track], frame: FrameInfo, clock: float) -> list[Track]:
        cfg = self.config
        return [
            t for t in people
            if zone.contains_box(t.box, frame.width, frame.height)
            and (t.state == "tracked" or (
                frame.stream_time - t.last_seen <= cfg.occlusion_s and not _at_edge(t.box, frame.width, frame.height)
            ))
        ]

    def _loitering_hours(self, zone: Zone) -> Zone:
        if zone.windows or not self._loiter_windows:
            return zone
        effective = self._with_hours.get(zone)
        if effective is None:
            effective = self._with_hours[zone] = zone.model_copy(update={"windows": self._loiter_windows})
        return effective

    # --- loitering and restricted areas -----------------------------------------

    def _stays(
        self,
        cam: _Camera,
        view: _View,
        frame: FrameInfo,
        zone: Zone,
        people: list[Track],
        inside: list[Track],
        looked: float,
        active: bool,
        threshold: float,
        kind: str,
    ) -> list[Alert]:
        cfg = self.config
        colours = (frame.colours or {}) if cfg.clothing_check else {}
        inside_ids = {t.id for t in inside}
        lost_ids = {t.id for t in people if t.state != "tracked"}
        gathering = view.gatherings.get(zone.id)
        crowded = kind == LOITERING and gathering is not None and gathering.alerted
        # a gathering being counted: its people's loitering waits for the verdict (a crowd alert takes them in)
        pending = kind == LOITERING and gathering is not None and gathering.counting and not gathering.alerted
        out = []
        for track in people:
            key = (zone.id, track.id)
            if track.id in view.handed:
                if track.state != "tracked":
                    continue  # its person goes on as the new track that took its stay: no second stay here
                view.handed.discard(track.id)  # seen again after all: a person of its own (_reported keeps one
                # person from being reported twice)
            stay = view.stays.get(key)
            if track.id not in inside_ids:
                if stay is not None:
                    stay.out_s += looked
                    if stay.out_s > cfg.leave_s:
                        del view.stays[key]
                continue
            if track.state == "tracked" and _walking_out(track, frame.width, frame.height):
                # leaving the picture: the stay ends here, and no new track continues it (the tracker may give
                # this id to someone walking in at this edge); if the track turns back, it is a new stay
                view.stays.pop(key, None)
                continue
            if stay is None:
                stay = self._claim(cam, view, zone.id, track, lost_ids, colours.get(track.id))
                if stay is None:
                    stay = _Stay(track, cam.clock)
                    # a new track on the spot of a person already reported is that person: never reported again
                    stay.fired = kind == LOITERING and self._reported(cam, view, zone.id, stay, track)
                view.stays[key] = stay
            stay.out_s = 0.0
            if track.state == "tracked":
                stay.box = track.box
                if track.id in colours:
                    stay.colour = clothing.blend(stay.colour, colours[track.id])
            if crowded:
                stay.crowded = True
            if not active:
                continue
            stay.dwell += looked
            if stay.fired or stay.crowded or pending or stay.dwell + _EPS < threshold:
                continue
            if track.state != "tracked" and kind == LOITERING:
                # due while hidden: the alert waits to see them (its snapshot must show the person). Not so in a
                # restricted area: an intruder who ducks behind cover is the alert, on the box last seen
                continue
            stay.fired = True
            if self._reported(cam, view, zone.id, stay, track):
                continue
            out.append(Alert(
                kind=kind, camera_id=frame.camera_id, preset=frame.preset, zone_id=zone.id, zone_kind=zone.kind.value,
                track_ids=(track.id,), boxes=(stay.box,), stream_time=frame.stream_time, wall_time=frame.wall_time,
                since_s=max(cam.clock - stay.began, 0.0),
                priority=getattr(cfg.priorities, kind.split(".", 1)[1]),
                facts={"dwell_s": round(stay.dwell, 2), "threshold_s": threshold},
            ))
        return out

    def _reported(self, cam: _Camera, view: _View, zone_id: str, stay: _Stay, track: Track) -> bool:
        """Another stay of the zone, at this spot, already fired: this one is the same person's second track."""
        reach = self.config.rematch_heights * _height(track.box)
        others = [s for (z, _), s in view.stays.items() if z == zone_id and s is not stay]
        others += [s for z, s in view.suspended if z == zone_id and cam.clock - (s.lost_at or 0.0) <= self.config.rematch_s]
        return any(s.fired and _apart(s.box, track.box) <= reach for s in others)

    def _claim(
        self, cam: _Camera, view: _View, zone_id: str, track: Track, lost_ids: set[int], colour: Colour | None,
    ) -> _Stay | None:
        """A stay of this zone that the new track continues: it appeared where that person was lost (the
        tracker let the track go: a suspended stay; or still holds it as lost), dressed alike."""
        cfg = self.config
        if track.id in view.known:
            return None  # an old track walking in: a new stay
        first = track.history[0][1:] if track.history else track.box
        best, best_d, best_key = None, cfg.rematch_heights * _height(track.box), None

        def other(stay: _Stay) -> bool:  # plainly someone else: not their stay to continue
            return clothing.differ(stay.colour, colour, cfg.clothing_ratio, cfg.clothing_chroma)

        for zid, stay in view.suspended:
            d = _apart(stay.box, first)
            if zid == zone_id and d <= best_d and not other(stay):
                best, best_d = stay, d
        for key, stay in view.stays.items():
            d = _apart(stay.box, first)
            if key[0] == zone_id and key[1] in lost_ids and d <= best_d and not other(stay):
                best, best_d, best_key = stay, d, key
        if best is None:
            return None
        if best_key is not None:
            del view.stays[best_key]
            view.handed.add(best_key[1])
        else:
            view.suspended.remove((zone_id, best))
        best.track_id, best.lost_at = track.id, None
        return best

    # --- crowds ---------------------------------------------------------------

    def _gathered(self, track: Track) -> bool:
        """Part of a gathering, not passing through: stood ``crowd_still_s``, or drifted under ``crowd_drift`` box
        heights a second over its last ``CROWD_DRIFT_S`` of boxes. In a crowd the detector boxes two people as one
        and splits them again, so a standing person's box jumps by half a width and the tracker's stationary time
        restarts; a straight line fitted through three seconds of boxes stays flat. A walker seen head-on moves
        little in the picture (0.15 heights a second), but steadily: the fit finds it."""
        cfg = self.config
        if track.stationary_s >= cfg.crowd_still_s:
            return True
        seen = track.history
        if not seen or seen[-1][0] - seen[0][0] + _EPS < CROWD_DRIFT_S:
            return False
        velocity = fit_velocity(seen, CROWD_DRIFT_S)
        return velocity is not None and math.hypot(*velocity) / _height(track.box) <= cfg.crowd_drift

    def _crowd(self, cam: _Camera, view: _View, frame: FrameInfo, zone: Zone, inside: list[Track], looked: float) -> list[Alert]:
        cfg = self.config
        g = view.gatherings.setdefault(zone.id, _Gathering())
        inside = [t for t in inside if self._gathered(t)]
        count = len(inside)
        if g.alerted:
            if count < cfg.crowd_size - cfg.crowd_hysteresis:
                g.below_s += looked
                if g.below_s >= cfg.crowd_clear_s:
                    view.gatherings[zone.id] = _Gathering()  # over: the next one is new
            else:
                g.below_s = 0.0
            return []
        if count < cfg.crowd_size:
            g.counting, g.above_s = False, 0.0
            return []
        if not g.counting:
            g.counting, g.began, g.above_s = True, cam.clock, 0.0  # counts from this frame on
        else:
            g.above_s += looked
        if g.above_s + _EPS < cfg.crowd_s:
            return []
        g.alerted = True
        ids = tuple(t.id for t in inside)
        return [Alert(
            kind=CROWD, camera_id=frame.camera_id, preset=frame.preset, zone_id=zone.id, zone_kind=zone.kind.value,
            track_ids=ids, boxes=tuple(t.box for t in inside), stream_time=frame.stream_time,
            wall_time=frame.wall_time, since_s=max(cam.clock - g.began, 0.0), priority=cfg.priorities.crowd,
            facts={"count": count, "crowd_size": cfg.crowd_size, "lasted_s": round(g.above_s, 2)},
        )]

    # --- running --------------------------------------------------------------

    def _motion(self, cam: _Camera, view: _View, people: list[Track]) -> None:
        """Remember when each person was last calm; a new track where a calm one was lost inherits it."""
        cfg = self.config
        for track in people:
            if track.state != "tracked":
                calm = view.calm_at.get(track.id)
                if calm is not None and track.id not in view.lost_calm and track.id not in view.calm_given:
                    lost_at = cam.clock - max((cam.stream or 0.0) - track.last_seen, 0.0)  # when it was last seen
                    view.lost_calm[track.id] = (lost_at, calm, track.box)
                continue
            view.lost_calm.pop(track.id, None)  # seen again: nobody inherits it
            if track.speed / _height(track.box) <= cfg.calm_speed:
                view.calm_at[track.id] = cam.clock
                view.calm_spots[track.id] = (cam.clock, track.box)
                view.calm_given.discard(track.id)
            elif track.id not in view.known and track.id not in view.calm_at:
                self._inherit(cam, view, track)  # new, and fast already: the runner whose track broke?

    def _inherit(self, cam: _Camera, view: _View, track: Track) -> None:
        first_t, *first = track.history[0] if track.history else (track.first_seen, *track.box)
        appeared = cam.clock - max(track.last_seen - first_t, 0.0)  # camera clock of its first sighting
        start = tuple(first)
        # a calm older than the onset window makes no runner; offered, it would shadow a fresh calm spot below (a
        # track held lost for long is offered again every frame, its reach grown with the time since)
        fresh = ((i, at, box) for i, (at, calm, box) in view.lost_calm.items() if cam.clock - calm <= self.config.onset_s)
        lost = _nearest(fresh, start, appeared)
        if lost is not None:
            view.calm_at[track.id] = view.lost_calm.pop(lost)[1]
            # handed on: not offered again while lost. The lost track keeps its own calm: if the tracker finds it
            # again, on whoever it now follows (in a group breaking into a run, a neighbour who stood there too),
            # and that one runs, it is a runner of its own; two tracks are not on one person at once
            view.calm_given.add(lost)
            return
        # in a group that breaks into a run the tracker swaps ids: a calm person's track jumps onto a neighbour, and
        # the person comes out on a new track, fast. A spot where someone stood calm a moment ago, and that its track
        # has left since, is inherited as a lost track's is; its own spot, or one its track still stands on (a
        # bystander), is nobody's calm
        left = (
            (i, calm, box) for i, (calm, box) in view.calm_spots.items()
            if i != track.id and (view.boxes.get(i) is None or iou(view.boxes[i], box) < VACATED_IOU)
        )
        spot = _nearest(left, start, appeared)
        if spot is not None:
            view.calm_at[track.id] = view.calm_spots.pop(spot)[0]

    def _running(self, cam: _Camera, view: _View, frame: FrameInfo, zone: Zone, inside: list[Track], looked: float) -> list[Alert]:
        cfg = self.config
        runs = view.runs.setdefault(zone.id, _Runs())
        fast: dict[int, Track] = {}
        for track in inside:
            if track.state != "tracked" or track.speed / _height(track.box) < cfg.run_speed:
                continue
            fast[track.id] = track
            calm = view.calm_at.get(track.id)
            if track.id not in runs.runners and calm is not None and cam.clock - calm <= cfg.onset_s:
                runs.runners[track.id] = cam.clock
        for track_id in [i for i in runs.runners if i not in fast]:
            del runs.runners[track_id]  # stopped running, or left the zone
        if not fast:
            runs.idle_s += looked
            if runs.alerted and runs.idle_s >= cfg.run_clear_s:
                runs.alerted = False
            return []
        runs.idle_s = 0.0
        burst = [i for i, t in runs.runners.items() if cam.clock - t <= cfg.run_window_s]
        if runs.alerted or len(burst) < cfg.min_runners:
            return []
        runs.alerted = True
        began = min(runs.runners[i] for i in burst)
        speeds = [round(fast[i].speed / _height(fast[i].box), 2) for i in burst]
        return [Alert(
            kind=RUNNING, camera_id=frame.camera_id, preset=frame.preset, zone_id=zone.id, zone_kind=zone.kind.value,
            track_ids=tuple(burst), boxes=tuple(fast[i].box for i in burst), stream_time=frame.stream_time,
            wall_time=frame.wall_time, since_s=max(cam.clock - began, 0.0) + cfg.onset_s,
            priority=cfg.priorities.running,
            facts={"runners": len(burst), "speeds_heights_per_s": speeds, "run_speed": cfg.run_speed},
        )]
