"""A signalised junction ahead of the camera: stop line, signal head, lanes and speed lines, drawn and told.

A scenario with a :class:`~plugins.traffic_sim.scenarios.Junction` gets a
stop line across the lanes going away, a signal head on a pole at the kerb
facing them (its lit lamp follows the junction's cycle, frame by frame), and,
where it says so, two speed lines across the road a known distance apart
(not painted: a calibration, as an installer measures it). The truth tells the
zones a deployment would draw (``stop_line`` strip, ``traffic_lane`` zones with
their direction), the signal head's box, the lamp lit in each frame, and the
calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from plugins.traffic_sim.background import Backdrop, Prop
from plugins.traffic_sim.geometry import LANE_EDGES, View
from plugins.traffic_sim.scenarios import Junction

POLE_X = -9.9  # on the kerb of the lanes going away, facing their drivers (and the camera behind them)
HEAD_Y = (2.9, 4.6)  # bottom and top of the head, metres: a near-side head, low enough for every seed's view
HEAD_HALF = 0.32
LAMP_R = 0.23
LAMPS = {"red": 4.25, "amber": 3.75, "green": 3.25}  # lamp centre heights
LIT = {"red": (255, 40, 30), "amber": (255, 176, 20), "green": (40, 250, 120)}
DIM = {"red": (72, 26, 24), "amber": (70, 58, 22), "green": (22, 58, 36)}
STRIP_M = 6.0  # the stop_line zone: this much of the lanes before the line
QUEUE_M = 20.0  # the queue_area zone behind the strip, where cars wait for the green (a site draws one too)
LANE_ZONE_Z = (11.0, 110.0)  # traffic_lane zones reach from here to there


@dataclass
class JunctionArt:
    junction: Junction
    view: View
    lamps: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # colour -> u, v, radius (pixels)
    head_box: tuple[float, float, float, float] | None = None  # pixels

    def phase(self, t: float) -> str | None:
        """The lamp lit at loop fraction ``t``."""
        lit = None
        for start, colour in self.junction.signal:
            if t + 1e-9 >= start:
                lit = colour
        return lit

    def light(self, draw: ImageDraw.ImageDraw, t: float) -> str | None:
        lit = self.phase(t)
        for colour, (u, v, r) in self.lamps.items():
            draw.ellipse((u - r, v - r, u + r, v + r), fill=LIT[colour] if colour == lit else DIM[colour])
        return lit

    def truth(self) -> dict:
        """The zones, signal head and calibration for the truth file's header (pixels)."""
        j, view = self.junction, self.view
        zones = [
            {"id": "lane_away", "kind": "traffic_lane", "polygon": _ground(view, LANE_EDGES[0], LANE_ZONE_Z[0], 0.0, LANE_ZONE_Z[1]),
             "direction": _direction(view, -3.5, +1)},
            {"id": "lane_toward", "kind": "traffic_lane", "polygon": _ground(view, 0.0, LANE_ZONE_Z[0], LANE_EDGES[-1], LANE_ZONE_Z[1]),
             "direction": _direction(view, 3.5, -1)},
        ]
        out: dict = {"zones": zones}
        if j.stop_z is not None:
            zones.insert(0, {"id": "stop_line", "kind": "stop_line", "polygon": _ground(view, LANE_EDGES[0], j.stop_z - STRIP_M, 0.0, j.stop_z)})
            queue_from = max(0.0, j.stop_z - STRIP_M - QUEUE_M)
            zones.insert(1, {"id": "queue", "kind": "queue_area",
                             "polygon": _ground(view, LANE_EDGES[0], queue_from, 0.0, j.stop_z - STRIP_M)})
        if self.head_box is not None:
            out["signal_head"] = {"box": [round(v, 1) for v in self.head_box]}
        if j.speed_lines is not None:
            z1, z2 = j.speed_lines
            out["calibration"] = {"lines": [_across(view, z1), _across(view, z2)], "distance_m": round(abs(z2 - z1), 3)}
            if j.speed_limit_kmh is not None:
                out["calibration"]["limit_kmh"] = j.speed_limit_kmh
        return out


def paint(backdrop: Backdrop, view: View, junction: Junction) -> JunctionArt:
    """Draw the stop line and the signal (pole and dark head) into ``backdrop``; the lamps are lit per frame."""
    art = JunctionArt(junction, view)
    image = backdrop.image
    draw = ImageDraw.Draw(image)
    if junction.stop_z is not None:
        line = view.polygon(np.array([(LANE_EDGES[0], 0.0, junction.stop_z - 0.4), (0.0, 0.0, junction.stop_z - 0.4),
                                      (0.0, 0.0, junction.stop_z), (LANE_EDGES[0], 0.0, junction.stop_z)]))
        if line:
            draw.polygon(line, fill=(228, 228, 222))
    if not junction.signal or junction.stop_z is None:
        return art
    z = junction.stop_z + 1.0
    mask = Image.new("L", image.size, 0)
    mdraw = ImageDraw.Draw(mask)
    parts = (
        ([(POLE_X - 0.08, 0, z), (POLE_X + 0.08, 0, z), (POLE_X + 0.08, HEAD_Y[0], z), (POLE_X - 0.08, HEAD_Y[0], z)], (96, 98, 102)),
        ([(POLE_X - HEAD_HALF, HEAD_Y[0], z), (POLE_X + HEAD_HALF, HEAD_Y[0], z), (POLE_X + HEAD_HALF, HEAD_Y[1], z),
          (POLE_X - HEAD_HALF, HEAD_Y[1], z)], (28, 28, 30)),
    )
    head = None
    for pts, colour in parts:
        poly = view.polygon(np.array(pts, dtype=float))
        if poly:
            draw.polygon(poly, fill=colour)
            mdraw.polygon(poly, fill=255)
            head = poly
    if head is None:
        return art
    us, vs = [p[0] for p in head], [p[1] for p in head]
    art.head_box = (max(min(us) - 1, 0.0), max(min(vs) - 1, 0.0), min(max(us) + 1, view.width), min(max(vs) + 1, view.height))
    for colour, y in LAMPS.items():
        (u, v), (u2, _) = view.to_pixels(view.to_camera(np.array([(POLE_X, y, z - 0.02), (POLE_X + LAMP_R, y, z - 0.02)])))
        art.lamps[colour] = (float(u), float(v), max(1.5, abs(float(u2 - u))))
        r = art.lamps[colour][2]
        draw.ellipse((u - r, v - r, u + r, v + r), fill=DIM[colour])
    box = mask.getbbox()
    depth = float(view.to_camera(np.array([[POLE_X, 0.0, z]]))[0, 2])
    if box and depth > 1.0:
        patch = image.crop(box).convert("RGBA")
        patch.putalpha(mask.crop(box))
        backdrop.props.append(Prop(depth, (box[0], box[1]), patch))
    return art


def _ground(view: View, x0: float, z0: float, x1: float, z1: float) -> list[list[float]]:
    poly = view.polygon(np.array([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)])) or []
    return [[round(u, 1), round(v, 1)] for u, v in _clip(poly, view.width, view.height)]


def _direction(view: View, x: float, sign: int) -> list[float]:
    """A lane's way in fractions of the picture: from 20 m to 40 m (``sign`` +1) or back (-1)."""
    (u1, v1), (u2, v2) = view.project(np.array([(x, 0.0, 20.0), (x, 0.0, 40.0)]))[0]
    return [round(sign * (u2 - u1) / view.width, 4), round(sign * (v2 - v1) / view.height, 4)]


def _across(view: View, z: float) -> list[list[float]]:
    """A line across the road at ``z``, clipped to the picture (pixels)."""
    (u1, v1), (u2, v2) = view.project(np.array([(LANE_EDGES[0], 0.0, z), (LANE_EDGES[-1], 0.0, z)]))[0]
    w, h = view.width, view.height
    t0, t1 = 0.0, 1.0
    for p, q in ((-(u2 - u1), u1), (u2 - u1, w - u1), (-(v2 - v1), v1), (v2 - v1, h - v1)):
        if abs(p) < 1e-12:
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
    a = (u1 + t0 * (u2 - u1), v1 + t0 * (v2 - v1))
    b = (u1 + t1 * (u2 - u1), v1 + t1 * (v2 - v1))
    return [[round(a[0], 1), round(a[1], 1)], [round(b[0], 1), round(b[1], 1)]]


def _clip(poly: list[tuple[float, float]], w: float, h: float) -> list[tuple[float, float]]:
    """A polygon clipped to the picture (Sutherland-Hodgman)."""
    edges = (
        (lambda p: p[0] >= 0, lambda a, b: (0.0, a[1] + (b[1] - a[1]) * (0 - a[0]) / (b[0] - a[0]))),
        (lambda p: p[0] <= w, lambda a, b: (w, a[1] + (b[1] - a[1]) * (w - a[0]) / (b[0] - a[0]))),
        (lambda p: p[1] >= 0, lambda a, b: (a[0] + (b[0] - a[0]) * (0 - a[1]) / (b[1] - a[1]), 0.0)),
        (lambda p: p[1] <= h, lambda a, b: (a[0] + (b[0] - a[0]) * (h - a[1]) / (b[1] - a[1]), h)),
    )
    out = list(poly)
    for inside, cut in edges:
        if not out:
            break
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
    return out
