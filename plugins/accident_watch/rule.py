"""The accident watch as a state machine: frames and tracks in, suspected accidents out.

Pure computation: no I/O, no clock of its own, no image. The analyzer feeds it,
for each frame of a camera, the frame's facts (:class:`FrameInfo`), the
confirmed tracks of that view's tracker and the camera's zones for the preset,
and publishes what :meth:`AccidentRule.update` returns. State is kept per
view (camera and preset: a PTZ camera's boxes mean nothing on another preset).
Times are the
stream's; a stream that jumps (back, or by more than ``max_frame_gap_s``)
forgets what it knew of the tracks, never an incident already reported.

Three signs of an accident, each judged where the vehicle or person stands
(the box's bottom centre) in a lane-kind zone (``traffic_lane``) and, for
vehicles, in no excused-kind zone (``stop_line``, ``queue_area``). A stop seen
in an excused zone at any moment of it stays excused: a car waiting at the
stop line whose box edges out of the strip as it moves off has not just
stopped abruptly in the lane beyond.

- **abrupt stop**: a vehicle that moved at ``min_speed`` or faster less than
  ``stop_within_s`` before it stood still (the tracker's ``stationary_since``),
  and has stood ``confirm_s``. A vehicle braking to a queue slows down over
  many seconds first; one that hits something does not. Vehicles smaller than
  ``min_size`` of the picture's height are not judged (nor for a collision): far
  up the road a car receding moves a few pixels a second and reads as standing;
  nor is one whose box shrinks or grows by more than ``steady_size`` once it
  stood: a car driving away shrinks while its centre hardly moves; nor one the
  detector has not seen surely (``sure_score``) in the last ``sure_within_s``: a
  stopped car is boxed as surely as a moving one, and a track that stands on
  unsure boxes alone may be a far car's, left on a faint patch when it went on.
- **collision**: two vehicles whose boxes meet (IoU ``meet_iou``) while one of
  them moves, and that then both stand still, within ``stop_within_s`` of the
  meeting, for ``confirm_s``.
- **person down**: a person whose box is ``down_aspect`` times as wide as tall
  (lying, not standing) for ``down_s``, its centre within ``down_drift`` box
  sizes meanwhile (lying still, not a vehicle read as a person driving on).

A stop counts only if the camera **watched** it: no gap longer than
``watch_gap_s`` between the vehicle's sightings from ``stop_within_s`` before it
stood still to the alert. A real detector misses a far car for a second and the
tracker may then hand its id to the car behind it at the same spot: the track
looks as if it stood there for seconds, and it never did.

**One alert per incident.** Signs that fire on the same frame, or on a spot
(a box) that overlaps an incident already reported, join it. An incident is
over once nothing is seen standing on its spot for ``clear_s``: a tracker that
loses a crashed car for a moment and finds it again under a new id does not
re-alert, and a track that was part of an alert never alerts again for the
same stop. A crashed car hidden longer than ``clear_s`` and found again under
a new id is reported again (a second alert beats a missed one).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.analytics.assignment import intersection, iou
from core.analytics.tracker import Track
from core.analytics.zones import Zone
from plugins.accident_watch.config import Config

Box = tuple[float, float, float, float]
EVENT_KIND = "accident.suspected"
ABRUPT_STOP, COLLISION, PERSON_DOWN = "abrupt_stop", "collision", "person_down"
_EPS = 1e-6
_HISTORY = 40  # samples kept per track: 8 s at 5 fps


@dataclass(frozen=True)
class FrameInfo:
    """What the rule reads of a frame: the frame hub's facts, no pixels (``ref``: the analyzer's handle)."""

    camera_id: str
    preset: str | None
    stream_time: float
    wall_time: datetime
    width: int
    height: int
    ref: Hashable = None


@dataclass(frozen=True)
class Party:
    """One vehicle or person involved."""

    track_id: int
    label: str
    box: Box
    sign: str  # abrupt_stop, collision or person_down
    speed_before: float  # sizes a second, before it stopped (0 for a person down)

    def public(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "class": self.label,
            "box": [round(v, 1) for v in self.box],
            "sign": self.sign,
            "speed_before": round(self.speed_before, 2),
        }


@dataclass(frozen=True)
class Accident:
    """One suspected accident: everything the alert and its evidence need."""

    camera_id: str
    preset: str | None
    zone_id: str | None
    signs: tuple[str, ...]
    parties: tuple[Party, ...]
    impact_stream: float  # when it happened, best guess: the meeting, the stop, the fall
    stream_time: float  # when the rule was sure (now)
    wall_time: datetime
    ref: Hashable  # the frame to take the snapshot from: this one
    box: Box  # the spot: every party's box together

    @property
    def track_id(self) -> int:
        return self.parties[0].track_id

    def detail(self) -> dict[str, Any]:
        return {
            "signs": list(self.signs),
            "parties": [p.public() for p in self.parties],
            "impact_stream_s": round(self.impact_stream, 3),
            "sure_after_s": round(max(self.stream_time - self.impact_stream, 0.0), 2),
            "box": [round(v, 1) for v in self.box],
        }


@dataclass
class _Seen:
    """What the rule keeps of one track."""

    samples: deque = field(default_factory=lambda: deque(maxlen=_HISTORY))  # (t, cx, cy, size, sure)
    stopped_at: float | None = None  # the stationary_since an abrupt stop was judged for
    stop_size: float = 0.0  # the box's size when that stop was first seen
    abrupt: float = 0.0  # speed before that stop, when abrupt; 0: not abrupt
    met: tuple[int, float, float] | None = None  # (other id, when, speed of the faster) of the last meeting
    wide_since: float | None = None
    reported: float | None = None  # the stationary_since (or wide_since) of the stop it was reported in
    unseen: float = 0.0  # the longest time between two sightings around the present stop (watch_gap_s)
    excused: float | None = None  # the stationary_since of a stop seen in an excused zone: excused all along
    sure_at: float | None = None  # when last seen with a sure box (sure_score)


@dataclass
class _Incident:
    box: Box
    occupied: float  # camera clock when something last stood on it
    track_ids: set[int]


@dataclass
class _Camera:
    clock: float = 0.0
    stream: float | None = None
    seen: dict[int, _Seen] = field(default_factory=dict)
    incidents: list[_Incident] = field(default_factory=list)


def _union(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    return (min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))


def _size(box: Box) -> float:
    return max(box[2] - box[0], box[3] - box[1], 1.0)


def _drift(seen: _Seen, since: float) -> float:
    """How far the centre strayed from where it was at ``since``, in box sizes (the largest since then)."""
    samples = [s for s in seen.samples if s[0] >= since - _EPS]
    if not samples:
        return 0.0
    _, x0, y0, size, _ = samples[0]
    return max(math.hypot(s[1] - x0, s[2] - y0) for s in samples) / max(size, 1.0)


class AccidentRule:
    """The rule's state for every camera of one analyzer."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._cameras: dict[tuple[str, str | None], _Camera] = {}  # per view: a PTZ preset's boxes are its own
        self._vehicles = frozenset(config.traffic_labels)
        self._people = frozenset(config.person_labels)

    def update(self, frame: FrameInfo, tracks: Iterable[Track], zones: Sequence[Zone]) -> list[Accident]:
        """Take one frame's confirmed tracks and the camera's zones for ``frame.preset``; accidents now sure."""
        cfg = self.config
        if not math.isfinite(frame.stream_time):
            return []
        cam = self._cameras.setdefault((frame.camera_id, frame.preset), _Camera())
        self._advance(cam, frame.stream_time)
        lanes = [z for z in zones if z.kind.value in cfg.lane_kinds]
        excused = [z for z in zones if z.kind.value in cfg.excused_kinds]
        visible = [t for t in tracks if t.state == "tracked" and (t.label in self._vehicles or t.label in self._people)]
        for track in visible:
            self._observe(cam.seen.setdefault(track.id, _Seen()), track, frame.stream_time)
        alive = {t.id for t in tracks}
        for track_id in [i for i in cam.seen if i not in alive]:
            del cam.seen[track_id]
        vehicles = [t for t in visible if t.label in self._vehicles]
        self._meetings(cam, vehicles, frame.stream_time)

        def lane_of(track: Track) -> Zone | None:
            for zone in lanes:
                if zone.contains_box(track.box, frame.width, frame.height):
                    return zone
            return None

        def excused_at(track: Track) -> bool:
            return any(z.contains_box(track.box, frame.width, frame.height) for z in excused)

        found: list[tuple[Party, float, Zone]] = []  # a party, its impact time, its lane
        by_id = {t.id: t for t in vehicles}
        for track in vehicles:
            seen = cam.seen[track.id]
            if track.stationary_s > _EPS and excused_at(track):
                seen.excused = track.stationary_since
            if seen.excused is not None and abs(seen.excused - track.stationary_since) <= _EPS:
                continue  # a stop made where stopping is normal stays excused when the car edges out of it
            lane = lane_of(track)
            if lane is None or track.stationary_s + _EPS < cfg.confirm_s:
                continue
            size = _size(track.box)
            if size < cfg.min_size * frame.height:
                continue  # too far to tell a stop from driving away
            if seen.stop_size and max(size / seen.stop_size, seen.stop_size / size) > cfg.steady_size:
                continue  # its box shrinks or grows while its centre stays: driving away or towards the camera
            if seen.unseen > cfg.watch_gap_s + _EPS:
                continue  # not watched through: a long miss, maybe another vehicle under its id
            if seen.reported is not None and abs(seen.reported - track.stationary_since) <= _EPS:
                continue
            if seen.abrupt > 0:
                if seen.sure_at is None or frame.stream_time - seen.sure_at > cfg.sure_within_s + _EPS:
                    continue  # held on unsure boxes only: a far car gone on, its track left on a faint patch
                found.append((Party(track.id, track.label, track.box, ABRUPT_STOP, seen.abrupt), track.stationary_since, lane))
            elif seen.met is not None:
                other = by_id.get(seen.met[0])
                when, speed = seen.met[1], seen.met[2]
                if (
                    other is not None
                    and other.stationary_s + _EPS >= cfg.confirm_s
                    and max(track.stationary_since, other.stationary_since) <= when + cfg.stop_within_s
                ):
                    found.append((Party(track.id, track.label, track.box, COLLISION, speed), when, lane))
        for track in visible:
            if track.label not in self._people:
                continue
            seen = cam.seen[track.id]
            lane = lane_of(track)
            if lane is None or seen.wide_since is None or track.last_seen - seen.wide_since + _EPS < cfg.down_s:
                continue
            if _drift(seen, seen.wide_since) > cfg.down_drift:
                continue  # wide but on the move: a vehicle or a rider read as a person, not someone lying there
            if seen.reported == seen.wide_since:
                continue
            found.append((Party(track.id, track.label, track.box, PERSON_DOWN, 0.0), seen.wide_since, lane))

        self._occupy(cam, vehicles, visible)
        fresh = [(p, t, z) for p, t, z in found if not self._known(cam, p)]
        for party, _, _ in found:  # reported, or part of one that was: never again while it stands there
            seen = cam.seen[party.track_id]
            seen.reported = seen.wide_since if party.sign == PERSON_DOWN else by_id[party.track_id].stationary_since
        if not fresh:
            return []
        accident = self._accident(frame, fresh)
        cam.incidents.append(_Incident(accident.box, cam.clock, {p.track_id for p in accident.parties}))
        return [accident]

    def forget(self, camera_id: str) -> None:
        """Drop a camera's state (it was removed)."""
        for view in [v for v in self._cameras if v[0] == camera_id]:
            del self._cameras[view]

    def incidents(self, camera_id: str) -> int:
        """Incidents of the camera, on any preset, not yet over (for health and tests)."""
        return sum(len(c.incidents) for v, c in self._cameras.items() if v[0] == camera_id)

    # --- steps ----------------------------------------------------------------

    def _advance(self, cam: _Camera, now: float) -> None:
        if cam.stream is not None:
            step = now - cam.stream
            if 0.0 <= step <= self.config.max_frame_gap_s:
                cam.clock += step
            else:
                cam.seen.clear()  # the stream restarted or stalled: what moved before means nothing now
        cam.stream = now
        cam.incidents = [i for i in cam.incidents if cam.clock - i.occupied <= self.config.clear_s]

    def _observe(self, seen: _Seen, track: Track, now: float) -> None:
        cfg = self.config
        if seen.samples and now - seen.samples[-1][0] > cfg.clear_s:
            seen.__init__()  # out of sight longer than an incident lasts unseen: whatever it does now is news
        x1, y1, x2, y2 = track.box
        step = now - seen.samples[-1][0] if seen.samples else 0.0
        if track.score >= cfg.sure_score:
            seen.sure_at = now
        seen.samples.append((now, (x1 + x2) / 2, (y1 + y2) / 2, _size(track.box), track.score >= cfg.sure_score))
        if track.label in self._people:
            wide = (x2 - x1) >= cfg.down_aspect * max(y2 - y1, _EPS)
            if not wide:
                seen.wide_since = None
            elif seen.wide_since is None:
                seen.wide_since = now
            return
        since = track.stationary_since
        if track.stationary_s <= _EPS:
            seen.stopped_at, seen.abrupt = None, 0.0  # moving
            return
        if seen.stopped_at is not None and abs(seen.stopped_at - since) <= _EPS:
            seen.unseen = max(seen.unseen, step)
            return  # this stop is judged already
        seen.stopped_at, seen.stop_size = since, _size(track.box)
        times = [s[0] for s in seen.samples if s[0] >= since - cfg.stop_within_s - _EPS]
        seen.unseen = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        speed = self._speed_before(seen, since)
        seen.abrupt = speed if speed >= cfg.min_speed else 0.0

    def _speed_before(self, seen: _Seen, since: float) -> float:
        """The fastest it went (sizes/s, over about half a second) in the ``stop_within_s`` before ``since``, read
        from sure boxes only: a track handed along unsure boxes of far cars in a queue wobbles as fast as one
        that moves."""
        window = [
            s for s in seen.samples if since - self.config.stop_within_s - _EPS <= s[0] <= since + _EPS and s[4]
        ]
        best = 0.0
        for i, a in enumerate(window):
            for b in window[i + 1 :]:
                dt = b[0] - a[0]
                if dt >= 0.39:
                    best = max(best, math.hypot(b[1] - a[1], b[2] - a[2]) / dt / b[3])
                    break
        return best

    def _meetings(self, cam: _Camera, vehicles: list[Track], now: float) -> None:
        cfg = self.config
        for i, a in enumerate(vehicles):
            for b in vehicles[i + 1 :]:
                if iou(a.box, b.box) < cfg.meet_iou:
                    continue
                fast = max(self._speed_now(cam.seen[a.id]), self._speed_now(cam.seen[b.id]))
                if fast < cfg.min_speed:
                    continue  # standing side by side is not meeting
                cam.seen[a.id].met = (b.id, now, fast)
                cam.seen[b.id].met = (a.id, now, fast)

    def _speed_now(self, seen: _Seen) -> float:
        last = seen.samples[-1] if seen.samples else None
        if last is None:
            return 0.0
        for s in reversed(seen.samples):
            if last[0] - s[0] >= 0.39:
                return math.hypot(last[1] - s[1], last[2] - s[2]) / (last[0] - s[0]) / last[3]
        return 0.0

    def _occupy(self, cam: _Camera, vehicles: list[Track], visible: list[Track]) -> None:
        down = [t for t in visible if t.label in self._people and cam.seen[t.id].wide_since is not None]
        standing = [t for t in vehicles if t.stationary_s > _EPS] + down
        for incident in cam.incidents:
            if any(t.id in incident.track_ids or intersection(t.box, incident.box) > 0 for t in standing):
                incident.occupied = cam.clock
                incident.track_ids.update(t.id for t in standing if intersection(t.box, incident.box) > 0)

    def _known(self, cam: _Camera, party: Party) -> bool:
        return any(party.track_id in i.track_ids or intersection(party.box, i.box) > 0 for i in cam.incidents)

    def _accident(self, frame: FrameInfo, found: list[tuple[Party, float, Zone]]) -> Accident:
        parties: dict[int, Party] = {}
        for party, _, _ in found:
            if party.track_id not in parties or party.sign == COLLISION:
                parties[party.track_id] = party
        ordered = tuple(sorted(parties.values(), key=lambda p: (p.sign != COLLISION, p.track_id)))
        signs = tuple(sorted({p.sign for p, _, _ in found}))
        return Accident(
            camera_id=frame.camera_id,
            preset=frame.preset,
            zone_id=found[0][2].id,
            signs=signs,
            parties=ordered,
            impact_stream=min(t for _, t, _ in found),
            stream_time=frame.stream_time,
            wall_time=frame.wall_time,
            ref=frame.ref,
            box=_union(p.box for p in ordered),
        )
