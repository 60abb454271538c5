"""Red-light running (Pasal 287 ayat 2): a vehicle that leaves a ``stop_line`` strip forwards while the light is red.

A ``stop_line`` zone is the strip just before the stop line. A vehicle
**crosses** when its ground point (bottom centre of its box) has been in the
strip, or passed over it between two frames, and is now out of it, forwards:
along the ``traffic_lane`` zone's direction where one covers the point it
entered by, else the way it came in. Leaving backwards (jitter at the strip's
rear edge while waiting) is no crossing. Each vehicle crosses once.

The crossing is an offence when the light has been red for at least
``grace_s`` (the amber's tail and the reading's hysteresis). A vehicle already
past the line when red starts never crosses again; one waiting behind the line
crosses on green. Without a known light state nothing fires.

Pure: no I/O, no clock, no pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.analytics.tracker import Track
from core.analytics.zones import Zone, ZoneKind
from plugins.etle_rules.config import RedLight
from plugins.etle_rules.offence import FrameInfo, ground
from plugins.etle_rules.signal import LightState

SAMPLES = 8  # points tried between two frames' positions: a fast car may pass the strip between frames


@dataclass
class _Track:
    prev: tuple[float, float] | None = None
    zone: str | None = None  # the strip it is in, or was in
    entry: tuple[float, float] | None = None  # where it entered it
    approach: tuple[float, float] | None = None  # how it moved as it entered (fractions)
    crossed: bool = False


class RedLightWatch:
    """One view's crossings (one camera, one preset)."""

    def __init__(self, config: RedLight) -> None:
        self.config = config
        self.light = LightState(config.confirm_frames, config.unknown_after_s)
        self.tracks: dict[int, _Track] = {}

    def update(self, frame: FrameInfo, tracks: Sequence[Track], zones: Sequence[Zone]) -> list[tuple[Track, str, dict[str, Any]]]:
        """The vehicles (``tracks``) that crossed a stop line on red in this frame, with their zone and facts."""
        strips = [z for z in zones if z.kind is ZoneKind.STOP_LINE]
        lanes = [z for z in zones if z.kind is ZoneKind.TRAFFIC_LANE]
        t, w, h = frame.stream_time, frame.width, frame.height
        out = []
        seen = set()
        for track in tracks:
            seen.add(track.id)
            if track.state != "tracked" or not strips:
                continue
            st = self.tracks.setdefault(track.id, _Track())
            g = ground(track.box, w, h)
            prev, st.prev = st.prev, g
            if st.crossed:
                continue
            inside = next((z for z in strips if z.contains(*g)), None)
            if inside is not None:
                if st.zone is None:
                    st.zone, st.entry = inside.id, prev or g
                    st.approach = (g[0] - prev[0], g[1] - prev[1]) if prev else None
                continue
            if st.zone is None and prev is not None:
                over = next((z for z in strips if any(z.contains(*_lerp(prev, g, k / SAMPLES)) for k in range(1, SAMPLES))), None)
                if over is not None:
                    st.zone, st.entry, st.approach = over.id, prev, (g[0] - prev[0], g[1] - prev[1])
            if st.zone is None:
                continue
            zone_id, entry, approach = st.zone, st.entry or g, st.approach
            st.zone, st.entry, st.approach = None, None, None
            way = (g[0] - entry[0], g[1] - entry[1])
            lane = next((z for z in lanes if z.contains(*entry)), None)
            forward = lane.direction if lane is not None else approach
            if forward is not None and (way[0] * forward[0] * w * w + way[1] * forward[1] * h * h) <= 0.0:
                continue  # out the way it came: no crossing
            st.crossed = True
            light, since = self.light.state, self.light.since
            if light == "red" and since is not None and t - since >= self.config.grace_s:
                out.append((track, zone_id, {"light": "red", "red_for_s": round(t - since, 2)}))
        for gone in [i for i in self.tracks if i not in seen]:
            del self.tracks[gone]
        return out


def _lerp(a: tuple[float, float], b: tuple[float, float], k: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k)
