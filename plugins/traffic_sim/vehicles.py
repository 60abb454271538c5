"""Vehicles as small 3D meshes: shaded faces, windows, wheels, lights, plates.

A body is a few convex prisms: a side profile in (z, y) extruded across the
vehicle's width. Faces turned away from the camera are skipped, so each
prism needs no sorting. Dimensions are metres, ``z`` points forwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from plugins.traffic_sim.geometry import HAZE_DAY, HAZE_NIGHT, View, haze, lamp_light, mix, shade, yaw_matrix
from plugins.traffic_sim.plate_art import PlateArt

Profile = tuple[tuple[float, float], ...]

GLASS_DAY = (58, 68, 80)
GLASS_NIGHT = (16, 18, 22)
TYRE = (22, 22, 24)
HUB = (150, 150, 155)
DARK = (38, 38, 40)
TRIM = (45, 46, 50)  # bumpers and sills: black plastic
SHEEN_DAY = (120, 135, 150)  # the sky reflected in the upper part of the glass
SHEEN_NIGHT = (46, 46, 48)  # the lit street and the lamps reflected in the glass
PLATE_SCALE = 1.7  # plates drawn larger than life so they stay legible at modest resolutions


@dataclass(frozen=True)
class Part:
    profile: Profile  # convex, (z, y)
    half_width: float
    role: str = "body"  # body, cabin (glass front and rear), cargo, dark
    window: Profile | None = None  # side window on both flanks
    taper: float = 0.0  # how much narrower the top is than the bottom, each side (a car's tumblehome)

    def x_at(self, y: float) -> float:
        """Half the part's width at height ``y``: the flanks lean in by ``taper`` from bottom to top."""
        if not self.taper:
            return self.half_width
        ys = [p[1] for p in self.profile]
        lo, hi = min(ys), max(ys)
        return self.half_width - self.taper * (y - lo) / ((hi - lo) or 1.0)


@dataclass(frozen=True)
class Shape:
    name: str
    length: float
    width: float
    parts: tuple[Part, ...]
    wheel_r: float
    axles: tuple[float, ...]
    plate_front: tuple[float, float]  # (z, y) of the plate's centre
    plate_rear: tuple[float, float]
    lamp_y: tuple[float, float]  # head/tail lamps between these heights
    plate_size: tuple[float, float] = (0.43, 0.135)
    windows: tuple[tuple[float, float, float, float], ...] = ()  # bus: (z0, y0, z1, y1) panes on the flanks
    screens: tuple[tuple[str, float, float], ...] = ()  # bus: (front|rear, y0, y1) glass across the face


def _inset(poly: Profile, k: float) -> Profile:
    cz = sum(p[0] for p in poly) / len(poly)
    cy = sum(p[1] for p in poly) / len(poly)
    return tuple((z + (cz - z) * k * 2.2, y + (cy - y) * k * 2.2) for z, y in poly)


def _car(name, length, width, body_top, hood, clear, cabin, wheel_r, lamp_y=(0.58, 0.72)) -> Shape:
    h = length / 2
    body = Part(((-h, clear), (h, clear), (h, hood[1]), (hood[0], body_top - 0.03), (-h, body_top)), width / 2)
    cz0, cz1, rz0, rz1, roof = cabin
    cab = ((cz0, body_top - 0.02), (cz1, body_top - 0.05), (rz1, roof), (rz0, roof))
    window = _inset(cab, 0.045)
    # the glasshouse is narrower than the body, and its sides lean in towards the roof (tumblehome): seen
    # from a pole, the side windows show as strips sloping up to a roof narrower than the car
    parts = (body, Part(cab, width / 2 - 0.14, "cabin", window, taper=0.2))
    axle = h - wheel_r - 0.55
    return Shape(name, length, width, parts, wheel_r, (-axle, axle), (h, clear + 0.2), (-h, clear + 0.35), lamp_y)


SHAPES: dict[str, Shape] = {
    "sedan": _car("sedan", 4.4, 1.74, 0.88, (1.1, 0.66), 0.25, (-1.75, 0.95, -1.2, 0.15, 1.40), 0.31),
    "mpv": _car("mpv", 4.5, 1.73, 0.95, (1.2, 0.70), 0.28, (-2.2, 1.15, -2.1, 0.2, 1.70), 0.32),
    "hatchback": _car("hatchback", 3.9, 1.68, 0.88, (1.0, 0.64), 0.26, (-1.9, 0.9, -1.75, 0.1, 1.46), 0.30),
    "suv": _car("suv", 4.6, 1.85, 1.05, (1.35, 0.86), 0.38, (-2.2, 1.25, -2.1, 0.35, 1.78), 0.37, (0.75, 0.9)),
    "truck": Shape(
        "truck", 6.4, 2.1,
        (
            Part(((-3.0, 0.45), (3.1, 0.45), (3.1, 0.92), (-3.0, 0.92)), 0.95, "dark"),
            Part(((-3.2, 0.92), (1.35, 0.92), (1.35, 2.9), (-3.2, 2.9)), 1.05, "cargo"),
            Part(
                ((1.45, 0.5), (3.2, 0.5), (3.2, 1.45), (3.0, 2.45), (1.45, 2.45)), 1.0, "cab",
                ((2.05, 1.5), (3.0, 1.5), (2.9, 2.25), (2.05, 2.25)),
            ),
        ),
        0.45, (-2.0, 2.2), (3.2, 0.75), (-3.0, 0.65), (0.8, 1.0),
    ),
    "bus": Shape(
        "bus", 11.0, 2.5,
        (Part(((-5.5, 0.35), (5.5, 0.35), (5.5, 3.05), (-5.5, 3.05)), 1.25, "bus"),),
        0.5, (-3.3, 3.6), (5.5, 0.6), (-5.5, 0.7), (0.6, 0.85),
        windows=tuple((z, 1.55, z + 1.15, 2.65) for z in np.arange(-5.1, 4.2, 1.3)),
        screens=(("front", 1.2, 2.9), ("rear", 1.9, 2.8)),
    ),
    "motorcycle": Shape(
        "motorcycle", 1.9, 0.7,
        (
            Part(((-0.85, 0.42), (0.62, 0.42), (0.78, 0.8), (0.35, 0.95), (-0.78, 0.82)), 0.16, "body"),
            Part(((-0.7, 0.8), (0.25, 0.8), (0.2, 0.9), (-0.68, 0.9)), 0.15, "dark"),
        ),
        0.3, (-0.65, 0.65), (0.8, 0.62), (-0.86, 0.55), (0.8, 0.9), plate_size=(0.25, 0.105),
    ),
}


@dataclass(frozen=True)
class Face:
    verts: np.ndarray  # (k, 3) local
    normal: np.ndarray  # (3,) local, outward
    kind: str  # flank, top, front, rear, other
    material: str  # body, glass, dark
    overlays: tuple[tuple[np.ndarray, str], ...] = ()  # drawn on the face: windows, wheels, ribs
    part: int = 0  # index of the shape's part it belongs to


@dataclass
class Mesh:
    """Faces with their overlays, and the arrays to project them all at once."""

    shape: Shape
    faces: list[Face] = field(default_factory=list)
    bounds: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    normals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    tyre_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def finish(self) -> None:
        boxes = []
        r = self.shape.wheel_r
        for az in self.shape.axles:
            for side in (-1, 1):
                wx = side * (self.shape.width / 2 - 0.18)
                for dz in (-r * 0.9, r * 0.9):
                    boxes.append(np.array([(wx - 0.12, 0.0, az + dz), (wx + 0.12, 0.0, az + dz), (wx + 0.12, 1.6 * r, az + dz), (wx - 0.12, 1.6 * r, az + dz)]))
        self.tyre_boxes = np.concatenate(boxes)
        self.bounds = np.concatenate([f.verts for f in self.faces])
        self.normals = np.stack([f.normal for f in self.faces])
        self.centres = np.stack([f.verts.mean(axis=0) for f in self.faces])


def _quad_x(x: float, z0: float, y0: float, z1: float, y1: float) -> np.ndarray:
    return np.array([(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)])


def _flank_overlays(shape: Shape, part: Part, index: int, side: float) -> list[tuple[np.ndarray, str]]:
    out: list[tuple[np.ndarray, str]] = []
    x = side * (part.half_width + 0.005)
    if part.window:
        out.append((np.array([(side * (part.x_at(y) + 0.005), y, z) for z, y in part.window]), "glass"))
        if part.role == "cabin":  # the B-pillar splits front and rear doors
            zc = float(np.mean([z for z, _ in part.window]))
            ys = [y for _, y in part.window]
            pillar = [(zc - 0.05, min(ys)), (zc + 0.05, min(ys)), (zc + 0.05, max(ys)), (zc - 0.05, max(ys))]
            out.append((np.array([(side * (part.x_at(y) + 0.01), y, z) for z, y in pillar]), "body"))
    if part.role == "bus":
        for z0, y0, z1, y1 in shape.windows:
            out.append((_quad_x(x, z0, y0, z1, y1), "glass"))
        out.append((_quad_x(x, -shape.length / 2, 0.6, shape.length / 2, 0.9), "stripe"))
    if part.role == "cargo":
        zs = [z for z, _ in part.profile]
        ys = [y for _, y in part.profile]
        for z in np.arange(min(zs) + 0.5, max(zs) - 0.2, 0.9):
            out.append((_quad_x(x, z, min(ys) + 0.05, z + 0.07, max(ys) - 0.05), "rib"))
    if index == 0 and part.role == "body" and len(shape.parts) > 1 and shape.parts[1].role == "cabin":
        out += _doors(shape, part, side)
    if part.role == "cabin":
        out += _mirror(shape, part, side)
    if index == 0 and shape.name != "motorcycle":  # wheels sit on the lowest part's flanks
        r = shape.wheel_r
        xw = side * (shape.width / 2 + 0.01)
        angles = np.linspace(0, 2 * math.pi, 14, endpoint=False)
        zs = [z for z, _ in part.profile]
        y_low = min(y for _, y in part.profile)
        # a dark sill along the bottom, and the arches: the wheels' dark surround
        out.append((_quad_x(side * (part.half_width + 0.006), min(zs) + 0.1, y_low, max(zs) - 0.1, y_low + 0.13), "trim"))
        half = np.linspace(0, math.pi, 9)
        for az in shape.axles:
            arch = np.stack([np.full_like(half, side * (part.half_width + 0.007)), r + 1.22 * r * np.sin(half), az + 1.22 * r * np.cos(half)], axis=1)
            out.append((np.concatenate([arch, [(arch[0, 0], 0.0, az - 1.22 * r), (arch[0, 0], 0.0, az + 1.22 * r)]]), "arch"))
        for az in shape.axles:
            out.append((np.stack([np.full_like(angles, xw), r + r * np.sin(angles), az + r * np.cos(angles)], axis=1), "tyre"))
            out.append((np.stack([np.full_like(angles, xw + side * 0.01), r + 0.55 * r * np.sin(angles), az + 0.55 * r * np.cos(angles)], axis=1), "hub"))
    return out


def _doors(shape: Shape, body: Part, side: float) -> list[tuple[np.ndarray, str]]:
    """Door seams and handles on a car's flank: the panel lines that make a flank a car's, not a box's."""
    cabin = shape.parts[1]
    ys = [y for _, y in cabin.profile]
    zs = [z for z, _ in cabin.profile]
    belt = min(ys) - 0.04
    low = min(y for _, y in body.profile) + 0.15
    r = shape.wheel_r
    front = min(max(zs) - 0.1, max(shape.axles) - 1.35 * r)
    rear = max(min(zs) + 0.35, min(shape.axles) + 1.35 * r)
    mid = float(np.mean([z for z, _ in cabin.window])) if cabin.window else (front + rear) / 2
    x = side * (body.half_width + 0.008)
    zs_body = [z for z, _ in body.profile]
    # the shoulder line: a crease under the windows catches the light along the whole flank
    out = [(_quad_x(side * (body.half_width + 0.007), min(zs_body) + 0.08, belt - 0.09, max(zs_body) - 0.25, belt - 0.05), "crease")]
    for z in (front, mid, rear):
        out.append((_quad_x(x, z - 0.012, low, z + 0.012, belt), "seam"))
    xh = side * (body.half_width + 0.01)
    for z in (mid, rear):
        out.append((_quad_x(xh, z + 0.12, belt - 0.16, z + 0.3, belt - 0.11), "seam"))
    return out


def _mirror(shape: Shape, cabin: Part, side: float) -> list[tuple[np.ndarray, str]]:
    """A door mirror at the foot of the A-pillar, standing out from the glasshouse to the body's width."""
    zs = [z for z, _ in cabin.profile]
    ys = [y for _, y in cabin.profile]
    z1 = max(zs) - 0.12
    y0 = min(ys) + 0.04
    x0, x1 = side * (cabin.x_at(y0) - 0.02), side * (shape.width / 2 - 0.01)
    return [(np.array([(x0, y0, z1), (x1, y0 + 0.02, z1 - 0.05), (x1, y0 + 0.16, z1 - 0.08), (x0, y0 + 0.14, z1 - 0.02)]), "trim")]


def _cargo_doors(hw: float, y0: float, y1: float, z: float) -> list[tuple[np.ndarray, str]]:
    """A box truck's rear doors: a frame round them, and the four locking bars a real one shows."""
    def quad(xa: float, ya: float, xb: float, yb: float) -> np.ndarray:
        return np.array([(xa, ya, z), (xb, ya, z), (xb, yb, z), (xa, yb, z)])
    t = 0.07
    out = [(quad(-hw, y1 - t, hw, y1), "rib"), (quad(-hw, y0, hw, y0 + t), "rib"), (quad(-hw, y0, -hw + t, y1), "rib"), (quad(hw - t, y0, hw, y1), "rib")]
    for x in (-0.75 * hw, -0.2 * hw, 0.2 * hw, 0.75 * hw):
        out.append((quad(x - 0.018, y0 + 0.12, x + 0.018, y1 - 0.12), "trim"))
        out.append((quad(x - 0.05, y0 + 0.5, x + 0.05, y0 + 0.56), "trim"))  # the handle
    return out


def _streak(verts: np.ndarray, s0: float, s1: float, lean: float) -> np.ndarray:
    """A slanted band across a quad (fractions along its bottom edge, shifted by ``lean`` at the top):
    the sky's reflection that runs across a windscreen or rear window."""
    a, b, c, d = verts  # bottom a-b, top d-c (profile order)
    def at(s: float, t: float) -> np.ndarray:
        bottom = a + (b - a) * s
        top = d + (c - d) * s
        return bottom + (top - bottom) * t
    return np.array([at(s0, 0.02), at(s1, 0.02), at(min(1.0, s1 + lean), 0.98), at(min(1.0, s0 + lean), 0.98)])


def build_mesh(shape: Shape) -> Mesh:
    mesh = Mesh(shape)
    for index, part in enumerate(shape.parts):
        prof = np.array(part.profile)
        centre = prof.mean(axis=0)
        material = "dark" if part.role == "dark" else "body"
        for side in (-1.0, 1.0):
            verts = np.array([(side * part.x_at(y), y, z) for z, y in part.profile])
            ys = prof[:, 1]
            lean = part.taper / ((ys.max() - ys.min()) or 1.0)
            normal = np.array([side, lean, 0.0]) / math.hypot(1.0, lean)
            lower = [] if part.role in ("dark", "cabin") else [(_flank_band(verts, part), "lower")]
            mesh.faces.append(Face(verts, normal, "flank", material, tuple(lower + _flank_overlays(shape, part, index, side)), index))
        for i in range(len(prof)):
            (z0, y0), (z1, y1) = prof[i], prof[(i + 1) % len(prof)]
            n = np.array([0.0, z1 - z0, -(y1 - y0)])
            mid = np.array([(z0 + z1) / 2 - centre[0], (y0 + y1) / 2 - centre[1]])
            if n[2] * mid[0] + n[1] * mid[1] < 0:
                n = -n
            n /= np.linalg.norm(n) or 1.0
            w0, w1 = part.x_at(y0), part.x_at(y1)
            verts = np.array([(-w0, y0, z0), (w0, y0, z0), (w1, y1, z1), (-w1, y1, z1)])
            kind = "top" if n[1] > 0.75 else "front" if n[2] > 0.5 else "rear" if n[2] < -0.5 else "other"
            overlays: list[tuple[np.ndarray, str]] = []
            face_material = material
            if part.role == "cabin" and kind != "top":
                overlays.append((_shrink(verts, 0.06), "glass"))  # windscreen and rear window in a thin frame
                # the sky in the glass: over its upper 60 % (30 % was less often found, the parked dark MPV
                # of no_parking_stop most of all: seen from above, a car's glass mirrors the sky)
                overlays.append((_band(_shrink(verts, 0.06), 0.0, 0.6), "sheen"))
                overlays.append((_streak(_shrink(verts, 0.06), 0.12, 0.3, 0.25), "sheen"))
            elif part.role == "cab" and kind == "other" and n[2] > 0:
                face_material = "glass"  # the truck's windscreen
            elif part.role == "cargo" and kind == "rear":
                overlays.append((np.array([(-0.02, y0 + 0.05, z0 - 0.005), (0.02, y0 + 0.05, z0 - 0.005), (0.02, y1 - 0.05, z1 - 0.005), (-0.02, y1 - 0.05, z1 - 0.005)]), "rib"))
                overlays += _cargo_doors(w0, min(y0, y1), max(y0, y1), z0 - 0.006)
            if kind in ("front", "rear") and part.role in ("body", "cargo", "bus", "cab"):
                overlays.insert(0, (_band(verts, 0.55, 1.0), "lower"))
            if index == 0 and part.role == "body" and kind in ("front", "rear") and shape.name != "motorcycle":
                overlays += _bumper(verts, kind, shape)
            mesh.faces.append(Face(verts, n, kind, face_material, tuple(overlays), index))
    mesh.finish()
    return mesh


SKY_IN_PAINT = (172, 186, 204)  # the daylight sky as glossy paint reflects it
LAMPS_IN_PAINT = (118, 110, 96)  # at night: the street lamps and the lit street in the paint


def _sky_in_paint(fill: tuple[int, int, int], normal_world: np.ndarray, hz: float, lamp: float | None = None) -> tuple[int, int, int]:
    """Glossy paint reflects the sky: a roof or bonnet facing up mirrors it most, a flank a little.
    Without it a dark car's roof was as black as its tyres, which no daylight photo shows. At night
    (``lamp``, the street lamps' light where the car stands) the paint mirrors the lamps overhead
    the same way: a black car under a lamp has a grey sheen on its roof, not a black hole."""
    up = max(0.0, float(normal_world[1]))
    if lamp is None:
        return mix(fill, SKY_IN_PAINT, (0.08 + 0.24 * up) * (1.0 - hz))
    return mix(fill, LAMPS_IN_PAINT, min(1.0, lamp) * (0.06 + 0.3 * up) * (1.0 - hz))


def _far_blocks_first(mesh: Mesh, order: np.ndarray, eye_local: np.ndarray) -> list[int]:
    """Visible faces in drawing order: a truck's cargo box and cab, which stand one behind the
    other, farther first (seen from behind, the cab was drawn over the box); other parts keep the
    mesh's order (a car's cabin sits on its body and is always drawn after it)."""
    parts = mesh.shape.parts
    blocks = [i for i, p in enumerate(parts) if p.role in ("cargo", "cab")]
    if len(blocks) < 2:
        return [int(i) for i in order]
    def far(i: int) -> float:
        zs = [z for z, _ in parts[i].profile]
        return -abs(float(eye_local[2]) - (min(zs) + max(zs)) / 2)
    rank = {i: i for i in range(len(parts))}
    for slot, i in zip(blocks, sorted(blocks, key=far)):
        rank[i] = slot
    return sorted((int(i) for i in order), key=lambda i: rank[mesh.faces[i].part])


@dataclass
class Glow:
    """A light seen directly: drawn additively by the renderer at night."""

    u: float
    v: float
    radius: float
    color: tuple[int, int, int]


class VehiclePainter:
    """Draws vehicles for one view; meshes and plate images are made once."""

    def __init__(self, view: View, night: bool, plate_art: PlateArt):
        self.view = view
        self.night = night
        self.plate_art = plate_art
        self.meshes = {name: build_mesh(shape) for name, shape in SHAPES.items()}
        self.haze_color = HAZE_NIGHT if night else HAZE_DAY

    def bbox(self, shape: str, x: float, z: float, heading: float) -> tuple[np.ndarray, float] | None:
        """Pixel corners of the vehicle's outline and its depth, ``None`` if behind."""
        mesh = self.meshes[shape]
        pts = mesh.bounds @ yaw_matrix(heading) + np.array([x, 0.0, z])
        cam = self.view.to_camera(pts)
        if cam[:, 2].max() < 1.0:
            return None
        return self.view.to_pixels(np.maximum(cam, [-np.inf, -np.inf, 0.3])), float(cam[:, 2].mean())

    def draw(
        self,
        draw: ImageDraw.ImageDraw,
        frame,
        shape_name: str,
        x: float,
        z: float,
        heading: float,
        color: tuple[int, int, int],
        plate_key: object,
        blink: bool,
        glows: list[Glow],
        beams: list[list[tuple[float, float]]],
        overlay=None,
    ) -> tuple[float, float, float, float] | None:
        """Draw one vehicle; return the plate's pixel box when its plate is shown.

        ``overlay`` (a callable) draws what sits on the body but under the
        plates and lamps: a motorcycle's rider.
        """
        view = self.view
        shape = self.shapes(shape_name)
        mesh = self.meshes[shape_name]
        rot = yaw_matrix(heading)
        pos = np.array([x, 0.0, z])
        eye = view.origin
        depth = float(view.to_camera(pos[None, :])[0, 2])
        if depth < 0.5:
            return None
        hz = float(haze(depth, self.night))
        lamp = float(lamp_light(x, z)) if self.night else 0.0

        def paint(c: tuple[int, int, int], normal_world: np.ndarray) -> tuple[int, int, int]:
            k = shade(normal_world, self.night, lamp)
            return mix((min(255, c[0] * k), min(255, c[1] * k), min(255, c[2] * k)), self.haze_color, hz)

        def poly(local: np.ndarray) -> list[tuple[float, float]] | None:
            return view.polygon(local @ rot + pos)

        def facing(normal_local: np.ndarray, point_local: np.ndarray) -> bool:
            return float((normal_local @ rot) @ (eye - (point_local @ rot + pos))) > 0

        # contact shadow
        hl, hw = shape.length / 2 + 0.1, shape.width / 2 + 0.08
        shadow = poly(np.array([(-hw, 0.0, -hl), (hw, 0.0, -hl), (hw, 0.0, hl), (-hw, 0.0, hl)]))
        if shadow:
            draw.polygon(shadow, fill=mix((30, 30, 32), self.haze_color, hz))
            # the dark under the car, between its wheels, where no skylight reaches
            core = poly(np.array([(-hw + 0.2, 0.0, -hl + 0.3), (hw - 0.2, 0.0, -hl + 0.3), (hw - 0.2, 0.0, hl - 0.3), (-hw + 0.2, 0.0, hl - 0.3)]))
            if core:
                draw.polygon(core, fill=mix((10, 10, 11), self.haze_color, hz))
        region = self._region(frame, shape_name, x, z, heading) if shape_name != "motorcycle" else None
        before = np.asarray(frame.crop(region)) if region else None

        # tyres under the body, seen from the front or back
        if shape_name != "motorcycle":
            polys = view.polygons(mesh.tyre_boxes @ rot + pos, [4] * (len(mesh.tyre_boxes) // 4))
            for p in polys:
                if p:
                    draw.polygon(p, fill=mix(TYRE, self.haze_color, hz))
        else:
            self._wheels_moto(draw, rot, pos, shape, hz, first=True)

        glass = GLASS_NIGHT if self.night else GLASS_DAY
        stripe = (240, 240, 240) if sum(color) < 600 else (40, 90, 170)
        fills = {"body": color, "glass": glass, "dark": DARK, "stripe": stripe, "tyre": TYRE, "hub": HUB if not self.night else (40, 40, 44), "arch": (12, 12, 14), "grille": (20, 20, 22)}
        normals = mesh.normals @ rot
        visible = np.einsum("ij,ij->i", normals, eye - (mesh.centres @ rot + pos)) > 0
        batch, sizes, plan = [], [], []
        for i in _far_blocks_first(mesh, np.flatnonzero(visible), (eye - pos) @ rot.T):
            face = mesh.faces[i]
            batch.append(face.verts)
            sizes.append(len(face.verts))
            plan.append((face.material, normals[i]))
            for verts, material in face.overlays:
                batch.append(verts)
                sizes.append(len(verts))
                plan.append((material, normals[i]))
        if batch:
            polys = view.polygons(np.concatenate(batch) @ rot + pos, sizes)
            for p, (material, nw) in zip(polys, plan):
                if not p:
                    continue
                if material in ("tyre", "hub", "arch", "grille"):
                    fill = mix(fills[material], self.haze_color, hz)
                elif material == "lower":
                    c = paint(color, nw)
                    fill = (c[0] * 3 // 4, c[1] * 3 // 4, c[2] * 3 // 4)
                elif material == "trim":
                    fill = paint(TRIM, nw)
                elif material == "sheen":
                    fill = paint(SHEEN_NIGHT if self.night else SHEEN_DAY, nw + np.array([0.0, 0.5, 0.0]))
                elif material == "seam":
                    c = paint(color, nw)
                    fill = (c[0] * 9 // 16, c[1] * 9 // 16, c[2] * 9 // 16)
                    draw.polygon(p, fill=fill)
                    continue
                elif material == "crease":
                    fill = mix(paint(color, nw), (235, 238, 240), 0.3 if not self.night else 0.12)
                elif material == "rib":
                    c = paint(color, nw)
                    fill = (max(0, c[0] - 30), max(0, c[1] - 30), max(0, c[2] - 30))
                elif material == "glass":
                    fill = paint(glass, nw + np.array([0.0, 0.5, 0.0]))
                elif material == "body":
                    fill = _sky_in_paint(paint(color, nw), nw, hz, lamp if self.night else None)
                else:
                    fill = paint(fills[material], nw)
                # panel edges a shade darker: flat colour alone reads as a box, not as a car
                draw.polygon(p, fill=fill, outline=(fill[0] * 5 // 8, fill[1] * 5 // 8, fill[2] * 5 // 8))

        if before is not None:
            self._model_light(frame, region, before)
        if shape_name == "motorcycle":
            self._wheels_moto(draw, rot, pos, shape, hz, first=False)
        if overlay is not None:
            overlay()

        for where, y0, y1 in shape.screens:
            zf = shape.length / 2 + 0.01
            n = np.array([0.0, 0.0, 1.0 if where == "front" else -1.0])
            zz = zf * n[2]
            quad = np.array([(-1.1, y0, zz), (1.1, y0, zz), (1.1, y1, zz), (-1.1, y1, zz)])
            if facing(n, quad.mean(axis=0)):
                p = poly(quad)
                if p:
                    draw.polygon(p, fill=paint(glass, n @ rot + np.array([0, 0.5, 0])))

        plate_box = None
        for end in ("front", "rear"):
            sign = 1.0 if end == "front" else -1.0
            n = np.array([0.0, 0.0, sign])
            pz, py = shape.plate_front if end == "front" else shape.plate_rear
            pz += sign * 0.02
            if not facing(n, np.array([0.0, py, pz])):
                continue
            self._lamps(draw, rot, pos, shape, end, blink, hz, poly, glows, beams)
            pw, ph = shape.plate_size[0] * PLATE_SCALE / 2, shape.plate_size[1] * PLATE_SCALE / 2
            # corners: top-left, top-right, bottom-right, bottom-left as seen from outside
            xl, xr = (-pw, pw) if end == "rear" else (pw, -pw)
            quad = np.array([(xl, py + ph, pz), (xr, py + ph, pz), (xr, py - ph, pz), (xl, py - ph, pz)])
            p = poly(quad)
            if p and len(p) == 4:
                tint = (self.haze_color, hz) if not self.night else ((0, 0, 0), min(0.9, 0.3 + hz))
                self.plate_art.paste(frame, draw, plate_key, p, tint)
                us, vs = [q[0] for q in p], [q[1] for q in p]
                plate_box = (min(us), min(vs), max(us), max(vs))
        return plate_box

    def _region(self, frame, shape_name: str, x: float, z: float, heading: float) -> tuple[int, int, int, int] | None:
        outline = self.bbox(shape_name, x, z, heading)
        if outline is None:
            return None
        px = outline[0]
        x0, y0 = max(0, int(px[:, 0].min())), max(0, int(px[:, 1].min()))
        x1, y1 = min(frame.width, int(px[:, 0].max()) + 1), min(frame.height, int(px[:, 1].max()) + 1)
        return (x0, y0, x1, y1) if x1 - x0 > 4 and y1 - y0 > 4 else None

    def _model_light(self, frame, region: tuple[int, int, int, int], before: np.ndarray) -> None:
        """Shade the body as a rounded, glossy one is lit: brighter above, darker towards the ground.

        Flat-shaded faces read as boxes to a detector trained on photos (it called them trucks or
        suitcases); a vertical fall-off of light and deeper contrast between the faces make it
        see cars. Only the pixels the body changed are touched, never the road around it.
        """
        after = np.asarray(frame.crop(region))
        mask = np.any(after != before, axis=2)
        if not mask.any():
            return
        body = after.astype(np.float32)
        mean = body[mask].mean(axis=0)
        h = after.shape[0]
        ramp = np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None, None]
        lit = np.clip(((body - mean) * 1.4 + mean) * ramp, 0, 255).astype(np.uint8)
        out = np.where(mask[..., None], lit, after)
        frame.paste(Image.fromarray(out), region[:2])

    def shapes(self, name: str) -> Shape:
        return SHAPES[name]

    def _wheels_moto(self, draw, rot, pos, shape: Shape, hz: float, first: bool) -> None:
        """The wheel further from the camera first, the nearer one after the body."""
        r = shape.wheel_r
        eye_local = (self.view.origin - pos) @ rot.T
        far, near = sorted(shape.axles, key=lambda az: -abs(eye_local[2] - az))
        az = far if first else near
        side = 0.055 if eye_local[0] > 0 else -0.055
        end = az + (r * 0.85 if eye_local[2] > az else -r * 0.85)
        tread = np.array([(-0.055, 0.0, end), (0.055, 0.0, end), (0.055, 2 * r * 0.85, end), (-0.055, 2 * r * 0.85, end)])
        angles = np.linspace(0, 2 * math.pi, 14, endpoint=False)
        for pts, col in (
            (tread, TYRE),
            (np.stack([np.full_like(angles, side), r + r * np.sin(angles), az + r * np.cos(angles)], axis=1), TYRE),
            (np.stack([np.full_like(angles, side * 1.1), r + 0.5 * r * np.sin(angles), az + 0.5 * r * np.cos(angles)], axis=1), (95, 95, 100)),
        ):
            p = self.view.polygon(pts @ rot + pos)
            if p:
                draw.polygon(p, fill=mix(col, self.haze_color, hz))

    def _lamps(self, draw, rot, pos, shape: Shape, end: str, blink: bool, hz: float, poly, glows, beams) -> None:
        front = end == "front"
        zf = (shape.length / 2 + 0.015) * (1 if front else -1)
        y0, y1 = shape.lamp_y
        hw = shape.width / 2
        xs = [(0.0, 0.09)] if shape.name == "motorcycle" else [(-hw + 0.06, -hw + 0.32), (hw - 0.32, hw - 0.06)]
        if front:
            color = (255, 250, 225) if self.night else (215, 218, 220)
        else:
            color = (255, 40, 30) if self.night else (150, 25, 25)
        if not front and not self.night and shape.name in ("mpv", "hatchback", "suv"):
            # a tall car's tail lamps run up its rear corners beside the tailgate (by day: by night the
            # dark housing does not show, and the whole lamp lit, or its unlit housing drawn, was found
            # less often than the lit foot alone)
            xs = [(-hw + 0.04, -hw + 0.24), (hw - 0.24, hw - 0.04)]
            y1 = max(y for _, y in shape.parts[0].profile) - 0.04
        for x0, x1 in xs:
            if shape.name == "motorcycle":
                x0 = -x1
            quad = np.array([(x0, y0, zf), (x1, y0, zf), (x1, y1, zf), (x0, y1, zf)])
            p = poly(quad)
            if not p:
                continue
            draw.polygon(p, fill=mix(color, self.haze_color, hz * 0.6))
            us, vs = [q[0] for q in p], [q[1] for q in p]
            cu, cv = sum(us) / len(us), sum(vs) / len(vs)
            size = max(max(us) - min(us), max(vs) - min(vs))
            if self.night:
                # a modern sensor blooms little: a headlight facing the camera is a bright lamp with a tight halo (a halo of
                # radius 1.6 times the lamp's size, renderer 9 and before, hid far cars' fronts: bench/README.md, renderer 10)
                glows.append(Glow(cu, cv, size * (0.6 if front else 1.3), color))
            if blink:
                amber = (255, 165, 20)
                draw.polygon(p, fill=amber)
                glows.append(Glow(cu, cv, size * 1.8, amber))
        if front and self.night:
            beam = np.array([(-hw, 0.0, zf), (hw, 0.0, zf), (hw + 2.5, 0.0, zf + 18.0), (-hw - 2.5, 0.0, zf + 18.0)])
            p = poly(beam)
            if p:
                beams.append(p)


def _band(verts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The band of a quad between fractions of its height, counted from the top edge."""
    a, b, c, d = verts
    if a[1] + b[1] > c[1] + d[1]:  # the rear window runs top to bottom
        a, b, c, d = d, c, b, a
    return np.array([a + (d - a) * (1 - hi), b + (c - b) * (1 - hi), b + (c - b) * (1 - lo), a + (d - a) * (1 - lo)])


def _flank_band(verts: np.ndarray, part: Part) -> np.ndarray:
    """The lower part of a flank (below its middle), where less light falls."""
    ys = [y for _, y in part.profile]
    zs = [z for z, _ in part.profile]
    y0, y1 = min(ys), min(ys) + 0.45 * (max(ys) - min(ys))
    x = verts[0, 0] * 1.002
    return _quad_x(x, min(zs), y0, max(zs), y1)


def _bumper(verts: np.ndarray, kind: str, shape: Shape) -> list[tuple[np.ndarray, str]]:
    """A dark bumper across the bottom of a car's front or rear face, and a grille at the front."""
    a, b, c, d = verts  # bottom edge a-b, top edge d-c (profile order)
    out = []
    ys = verts[:, 1]
    y0, y1 = float(ys.min()), float(ys.max())
    if y1 - y0 < 0.2:
        return out
    push = 0.012 if kind == "front" else -0.012
    x = shape.width / 2 - 0.02
    z = float(verts[:, 2].mean()) + push
    yb = y0 + min(0.22, 0.4 * (y1 - y0))
    out.append((np.array([(-x, y0 + 0.02, z), (x, y0 + 0.02, z), (x, yb, z), (-x, yb, z)]), "trim"))
    if kind == "front" and shape.name not in ("bus",):
        gy0, gy1 = yb + 0.03, min(y1 - 0.05, yb + 0.2)
        out.append((np.array([(-x * 0.45, gy0, z), (x * 0.45, gy0, z), (x * 0.45, gy1, z), (-x * 0.45, gy1, z)]), "grille"))
    return out


def _shrink(verts: np.ndarray, k: float) -> np.ndarray:
    c = verts.mean(axis=0)
    return verts + (c - verts) * k * 2
