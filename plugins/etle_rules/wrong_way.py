"""Wrong way (Pasal 287 ayat 1, a one-way lane's sign or marking): a vehicle moving against its lane.

A ``traffic_lane`` zone says which way traffic flows (``direction``). A
vehicle whose ground point stays in one lane and moves against that direction
by ``min_distance`` (of the picture's diagonal, measured along the lane) over at
least ``min_s``, heading within ``max_angle_deg`` of straight against it, is
going the wrong way: one offence per vehicle. Any move with the traffic of more
than a fiftieth of the diagonal starts the count afresh, so jitter, a car
standing in a queue or reversing a metre into a gap never add up. Where the
vehicle is, is read only from frames whose box the detector was ``sure_score``
sure of (the track's box then is the detection's): a track the tracker carries
on an unsure box (a standing car's, or one box over half a queue) is skipped,
and after more than ``max_gap_s`` without a sure box the count starts afresh
(the track may have been handed to another vehicle meanwhile).

Pure: no I/O, no clock, no pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.analytics.tracker import Track
from core.analytics.zones import Zone, ZoneKind
from plugins.etle_rules.config import WrongWay
from plugins.etle_rules.offence import FrameInfo

RESTART = 0.02  # with the traffic this far (of the diagonal): the count starts again


@dataclass
class _Track:
    lane: str | None = None
    start: tuple[float, float, float] | None = None  # stream time, x, y (pixels) where the count began
    done: bool = False
    sure_at: float | None = None  # stream time of its last sure box


class WrongWayWatch:
    """One view's vehicles against their lanes."""

    def __init__(self, config: WrongWay) -> None:
        self.config = config
        self.cos = math.cos(math.radians(config.max_angle_deg))
        self.tracks: dict[int, _Track] = {}

    def update(self, frame: FrameInfo, tracks: Sequence[Track], zones: Sequence[Zone]) -> list[tuple[Track, str, dict[str, Any]]]:
        lanes = [z for z in zones if z.kind is ZoneKind.TRAFFIC_LANE]
        t, w, h = frame.stream_time, frame.width, frame.height
        diagonal = math.hypot(w, h)
        need, restart = self.config.min_distance * diagonal, RESTART * diagonal
        out = []
        seen = set()
        for track in tracks:
            seen.add(track.id)
            if track.state != "tracked" or not lanes:
                continue
            st = self.tracks.setdefault(track.id, _Track())
            if st.done or track.score < self.config.sure_score:
                continue  # an unsure box says nothing of where the vehicle is: neither on nor against
            x1, _, x2, y2 = track.box
            gx, gy = (x1 + x2) / 2, y2
            lane = next((z for z in lanes if z.contains(gx / w, gy / h)), None)
            unseen = st.sure_at is not None and t - st.sure_at > self.config.max_gap_s
            st.sure_at = t
            if lane is None:
                st.lane, st.start = None, None
                continue
            if unseen:
                st.start = None  # not seen surely for a while: the track may be on another vehicle now
            if lane.id != st.lane or st.start is None:
                st.lane, st.start = lane.id, (t, gx, gy)
                continue
            dx, dy = lane.direction_px(w, h)
            norm = math.hypot(dx, dy)
            ux, uy = dx / norm, dy / norm
            t0, sx, sy = st.start
            mx, my = gx - sx, gy - sy
            along = mx * ux + my * uy
            if along > restart:
                st.start = (t, gx, gy)
                continue
            moved = math.hypot(mx, my)
            if -along >= need and t - t0 >= self.config.min_s and -along >= moved * self.cos:
                st.done = True
                facts = {"against_px": round(-along, 1), "against_s": round(t - t0, 2), "lane_direction": list(lane.direction or ())}
                out.append((track, lane.id, facts))
        for gone in [i for i in self.tracks if i not in seen]:
            del self.tracks[gone]
        return out
