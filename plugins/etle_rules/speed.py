"""Speed (Pasal 287 ayat 5), only where a camera is calibrated: time between two lines a known distance apart.

A calibrated view (``speed_lines``) has two lines across its lanes,
``distance_m`` apart on the road. A vehicle's ground point (the bottom centre
of its box, every position in the track's history) crossing both gives
one measurement: the distance over the time between the crossings, each
crossing's time interpolated between the two frames around it (at 5 fps a
frame is 0.2 s: over 20 m at 80 km/h that is what keeps the error to a few
km/h). Either order counts (traffic both ways). Above the limit plus the margin
it is an offence. A view without lines measures nothing, ever. One
measurement per pass from one line to the other: a track measured once starts
afresh, so that a vehicle the tracker gave an id that had just left the
picture the other way (an id switch) is still measured.

Pure: no I/O, no clock, no pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.analytics.tracker import Track
from plugins.etle_rules.config import Speed, SpeedLines
from plugins.etle_rules.offence import FrameInfo

Seg = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Measurement:
    camera_id: str
    track_id: int
    label: str
    kmh: float
    first_s: float  # stream time it crossed its first line
    second_s: float


@dataclass
class _Track:
    prev: tuple[float, float, float] | None = None  # t, x, y in pixels: the last position looked at
    crossed: dict[int, float] = field(default_factory=dict)  # line index -> stream time, this pass


class SpeedWatch:
    """One calibrated view's speeds."""

    def __init__(self, config: Speed, lines: SpeedLines) -> None:
        self.config = config
        self.lines = lines
        self.limit = lines.limit_kmh if lines.limit_kmh is not None else config.limit_kmh
        self.tracks: dict[int, _Track] = {}

    def update(self, frame: FrameInfo, tracks: Sequence[Track]) -> tuple[list[Measurement], list[tuple[Track, None, dict[str, Any]]]]:
        """This frame's measurements, and those over the limit as offences."""
        w, h = frame.width, frame.height
        segs: list[Seg] = [
            ((line[0].x * w, line[0].y * h), (line[1].x * w, line[1].y * h)) for line in (self.lines.first, self.lines.second)
        ]
        measured, out = [], []
        seen = set()
        for track in tracks:
            seen.add(track.id)
            if track.state != "tracked":
                continue
            st = self.tracks.setdefault(track.id, _Track())
            # every position since the last frame, from the track's history: a fast car is confirmed by the
            # tracker only after a few frames, and may have crossed the first line by then
            for when, x1, _, x2, y2 in track.history:
                here = (when, (x1 + x2) / 2, y2)
                prev = st.prev
                if prev is not None and here[0] <= prev[0]:
                    continue
                st.prev = here
                if prev is None:
                    continue
                for index, seg in enumerate(segs):
                    if index in st.crossed:
                        continue
                    s = _crossing((prev[1], prev[2]), (here[1], here[2]), seg)
                    if s is not None:
                        st.crossed[index] = prev[0] + s * (here[0] - prev[0])
            if len(st.crossed) < 2:
                continue
            a, b = sorted(st.crossed.values())
            st.crossed = {}  # one measurement a pass; a track the tracker carried onto another vehicle is measured again
            if b - a <= 0.0 or b - a > self.config.max_gap_s:
                continue
            kmh = self.lines.distance_m / (b - a) * 3.6
            m = Measurement(frame.camera_id, track.id, track.label, kmh, a, b)
            measured.append(m)
            if kmh > self.limit + self.config.margin_kmh:
                facts = {
                    "speed_kmh": round(kmh, 1), "limit_kmh": self.limit, "margin_kmh": self.config.margin_kmh,
                    "distance_m": self.lines.distance_m, "lines_s": [round(a, 3), round(b, 3)],
                }
                out.append((track, None, facts))
        for gone in [i for i in self.tracks if i not in seen]:
            del self.tracks[gone]
        return measured, out


def _crossing(p: tuple[float, float], q: tuple[float, float], seg: Seg) -> float | None:
    """Where along p->q (0..1) it crosses the segment, or ``None``."""
    (ax, ay), (bx, by) = seg
    rx, ry = q[0] - p[0], q[1] - p[1]
    sx, sy = bx - ax, by - ay
    denom = rx * sy - ry * sx
    if abs(denom) < 1e-12:
        return None
    qpx, qpy = ax - p[0], ay - p[1]
    u = (qpx * sy - qpy * sx) / denom  # along p->q
    v = (qpx * ry - qpy * rx) / denom  # along the line
    if 0.0 < u <= 1.0 and 0.0 <= v <= 1.0:
        return u
    return None
