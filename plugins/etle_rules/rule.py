"""The ETLE rules for one analyzer: each camera view's red light, wrong way and speed watches.

:meth:`EtleRule.update` takes one frame's facts, the view's confirmed tracks
and zones, and the light as read on this frame (the signal head's colour, or a
signal input's phase), and returns the offences found. Each offence is found
once per vehicle (track). A view is a camera and a preset; a preset change
starts its watches afresh (the tracker's ids start afresh too), and so does
stream time going back (the stream restarted): the light is then read anew
before anything fires. Durations are stream time only; wall time is only
printed on the event, so a wall clock that steps (NTP, a wrong time zone)
neither fires nor repeats anything.

Pure: no I/O, no clock of its own, no pixels (:mod:`plugins.etle_rules.signal`
reads them for the analyzer).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.analytics.tracker import Track
from core.analytics.zones import Zone
from plugins.etle_rules.config import Config
from plugins.etle_rules.offence import FrameInfo, Offence, grown
from plugins.etle_rules.red_light import RedLightWatch
from plugins.etle_rules.signal import Phase
from plugins.etle_rules.speed import Measurement, SpeedWatch
from plugins.etle_rules.wrong_way import WrongWayWatch

KEEP_MEASUREMENTS = 200


@dataclass
class _View:
    preset: str | None
    red: RedLightWatch
    wrong: WrongWayWatch
    speed: SpeedWatch | None  # None: not calibrated, never a speed
    last: float = float("-inf")  # the stream time of its last frame


class EtleRule:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._views: dict[str, _View] = {}
        self._vehicles = frozenset(config.watched_labels)
        self.speeds: collections.deque[Measurement] = collections.deque(maxlen=KEEP_MEASUREMENTS)

    def view(self, camera_id: str, preset: str | None, stream_time: float = float("inf")) -> _View:
        view = self._views.get(camera_id)
        if view is None or view.preset != preset or stream_time < view.last:
            cfg = self.config
            lines = cfg.calibration(camera_id, preset)
            view = _View(
                preset,
                RedLightWatch(cfg.red_light),
                WrongWayWatch(cfg.wrong_way),
                SpeedWatch(cfg.speed, lines) if lines is not None else None,
            )
            self._views[camera_id] = view
        return view

    def light(self, camera_id: str) -> Phase | None:
        view = self._views.get(camera_id)
        return view.red.light.state if view is not None else None

    def update(
        self,
        frame: FrameInfo,
        tracks: Iterable[Track],
        zones: Sequence[Zone],
        light: str | None = None,
        sure: bool = False,
    ) -> list[Offence]:
        """``light``: this frame's reading of the signal (``sure``: from a signal input, no hysteresis)."""
        cfg = self.config
        if not math.isfinite(frame.stream_time):
            return []
        view = self.view(frame.camera_id, frame.preset, frame.stream_time)
        view.last = frame.stream_time
        view.red.light.update(light, frame.stream_time, sure)
        vehicles = [t for t in tracks if t.label in self._vehicles]
        out: list[Offence] = []
        if cfg.red_light.enabled:
            for track, zone, facts in view.red.update(frame, vehicles, zones):
                out.append(self._offence("red_light", cfg.red_light.event_kind, cfg.red_light.legal_basis.model_dump(), frame, track, zone, facts))
        if cfg.wrong_way.enabled:
            for track, zone, facts in view.wrong.update(frame, vehicles, zones):
                out.append(self._offence("wrong_way", cfg.wrong_way.event_kind, cfg.wrong_way.legal_basis.model_dump(), frame, track, zone, facts))
        if cfg.speed.enabled and view.speed is not None:
            measured, over = view.speed.update(frame, vehicles)
            self.speeds.extend(measured)
            for track, zone, facts in over:
                out.append(self._offence("speed", cfg.speed.event_kind, cfg.speed.legal_basis.model_dump(), frame, track, zone, facts))
        return out

    def forget(self, camera_id: str) -> None:
        self._views.pop(camera_id, None)

    def _offence(self, name: str, kind: str, legal: dict, frame: FrameInfo, track: Track, zone: str | None, facts: dict) -> Offence:
        return Offence(
            offence=name,
            kind=kind,
            camera_id=frame.camera_id,
            preset=frame.preset,
            zone_id=zone,
            track_id=track.id,
            label=track.label,
            stream_time=frame.stream_time,
            wall_time=frame.wall_time,
            box=track.box,
            score=track.score,
            ref=frame.ref,
            crop=grown(track.box, self.config.crop_margin, frame.width, frame.height),
            first_seen=track.first_seen,
            legal_basis=legal,
            facts=facts,
        )
