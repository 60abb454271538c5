"""The street without its traffic: drawn once per render.

Sky, road surface and markings, kerbs, sidewalks, the no-parking zone and its
sign, shophouses (ruko) with signboards, street lamps. At night the picture is
darkened and lit again by the lamps, and some windows glow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from plugins.traffic_sim.geometry import (
    BUILDING_X,
    HAZE_DAY,
    HAZE_NIGHT,
    KERB_HEIGHT,
    KERB_X,
    LAMP_HEIGHT,
    LAMP_POLE_X,
    LANE_EDGES,
    NO_PARKING_ZONE,
    Z_ROAD_END,
    View,
    haze,
    lamp_light,
    lamp_positions,
    mix,
)
from plugins.traffic_sim.plate_art import load_font, paste_warped

SIDEWALK = (176, 170, 160)
ASPHALT = (84, 86, 90)
SHOULDER = (92, 93, 96)
WHITE = (228, 228, 222)
YELLOW = (232, 190, 30)
FACADES = ((232, 224, 205), (215, 210, 200), (240, 236, 228), (200, 215, 222), (226, 206, 186), (190, 196, 200), (236, 222, 170))
SIGN_COLORS = ((200, 30, 40), (30, 80, 160), (30, 130, 70), (230, 170, 20), (240, 240, 240))
SHOP_NAMES = (
    "TOKO SUMBER REJEKI", "APOTEK SEHAT", "WARUNG MAKAN", "BENGKEL MOTOR", "TOKO BANGUNAN", "LAUNDRY KILAT",
    "BANK KALTIM", "KEDAI KOPI", "PONSEL CELL", "RUMAH MAKAN PADANG", "TOKO EMAS", "FOTOKOPI",
)


@dataclass(frozen=True)
class Prop:
    """A street fixture that traffic can pass behind: redrawn in depth order every frame."""

    depth: float
    origin: tuple[int, int]
    patch: Image.Image  # RGBA, cut from the finished backdrop


@dataclass
class Backdrop:
    image: Image.Image
    zone_polygon: list[tuple[float, float]] = field(default_factory=list)  # the no-parking zone, pixels
    props: list[Prop] = field(default_factory=list)


@dataclass
class _Painter:
    view: View
    night: bool
    image: Image.Image
    ground: Image.Image  # mask: 255 where the picture shows the ground
    lit_windows: list[list[tuple[float, float]]] = field(default_factory=list)
    glows: list[tuple[float, float, float]] = field(default_factory=list)
    prop_masks: list[tuple[float, Image.Image]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.draw = ImageDraw.Draw(self.image)
        self.mask = ImageDraw.Draw(self.ground)
        self.prop: ImageDraw.ImageDraw | None = None

    def begin_prop(self, x: float, z: float) -> ImageDraw.ImageDraw:
        """What is drawn until :meth:`end_prop` also goes into this prop's mask."""
        depth = float(self.view.to_camera(np.array([[x, 0.0, z]]))[0, 2])
        mask = Image.new("L", self.image.size, 0)
        self.prop_masks.append((depth, mask))
        self.prop = ImageDraw.Draw(mask)
        return self.prop

    def end_prop(self) -> None:
        self.prop = None

    def flat(self, x0: float, z0: float, x1: float, z1: float, color, y: float = 0.0) -> None:
        p = self.view.polygon(np.array([(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]))
        if p:
            self.draw.polygon(p, fill=color)
            self.mask.polygon(p, fill=255)

    def face(self, pts, color, depth: float | None = None, ground: bool = False) -> list[tuple[float, float]] | None:
        pts = np.asarray(pts, dtype=float)
        p = self.view.polygon(pts)
        if not p:
            return None
        if depth is None:
            depth = float(self.view.to_camera(pts.mean(axis=0)[None, :])[0, 2])
        hz = haze(depth, self.night)
        self.draw.polygon(p, fill=mix(color, HAZE_NIGHT if self.night else HAZE_DAY, float(hz) if not ground else 0.0))
        self.mask.polygon(p, fill=255 if ground else 0)
        if self.prop is not None:
            self.prop.polygon(p, fill=255)
        return p


def build_backdrop(view: View, night: bool, rng: np.random.Generator, label: str) -> Backdrop:
    w, h = view.width, view.height
    image = Image.new("RGB", (w, h))
    painter = _Painter(view, night, image, Image.new("L", (w, h), 0))
    _sky(image, view, night)
    _ground(painter)
    zone = _markings(painter)
    _buildings(painter, rng)
    _lamps(painter)
    _no_parking_sign(painter)
    arr = np.asarray(image).astype(np.float32)
    _air(arr, painter, view, night, rng)
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if night:
        d = ImageDraw.Draw(image)
        for p in painter.lit_windows:
            d.polygon(p, fill=(250, 214, 140))
        image = add_glows(image, [(u, v, r, (255, 226, 170)) for u, v, r in painter.glows])
    props = []
    for depth, mask in painter.prop_masks:
        box = mask.getbbox()
        if box and depth > 1.0:
            patch = image.crop(box).convert("RGBA")
            patch.putalpha(mask.crop(box))
            props.append(Prop(depth, (box[0], box[1]), patch))
    _label(image, label)
    return Backdrop(image, zone, props)


def _sky(image: Image.Image, view: View, night: bool) -> None:
    horizon = max(0.0, view.horizon_row())
    top, bottom = ((8, 10, 24), (28, 30, 48)) if night else ((122, 166, 214), (206, 220, 232))
    rows = np.linspace(0.0, 1.0, max(1, int(horizon) + 1))[:, None]
    grad = (np.array(top) * (1 - rows) + np.array(bottom) * rows).astype(np.uint8)
    sky = np.repeat(grad[:, None, :], view.width, axis=1)
    image.paste(Image.fromarray(sky), (0, 0))
    ImageDraw.Draw(image).rectangle((0, int(horizon), view.width, view.height), fill=HAZE_NIGHT if night else HAZE_DAY)


def _ground(p: _Painter) -> None:
    far = Z_ROAD_END
    p.flat(-BUILDING_X, -20, -KERB_X, far, SIDEWALK)
    p.flat(KERB_X, -20, BUILDING_X, far, SIDEWALK)
    p.flat(-KERB_X, -20, KERB_X, far, ASPHALT)
    p.flat(-KERB_X, -20, LANE_EDGES[0], far, SHOULDER)
    p.flat(LANE_EDGES[-1], -20, KERB_X, far, SHOULDER)
    # paving joints on the sidewalks
    for side in (-1, 1):
        x0, x1 = sorted((side * KERB_X, side * BUILDING_X))
        for z in np.arange(-10.0, 120.0, 2.0):
            p.flat(x0, z, x1, z + 0.06, (150, 145, 136))
    # kerb faces: black and white, yellow along the no-parking zone
    zx0, zz0, zx1, zz1 = NO_PARKING_ZONE
    for side in (-1, 1):
        x = side * KERB_X
        for z in np.arange(-20.0, 200.0, 1.0):
            yellow = side < 0 and zz0 <= z < zz1
            color = YELLOW if yellow else (WHITE if int(z) % 2 == 0 else (35, 35, 35))
            p.face([(x, 0.0, z), (x, 0.0, z + 1.0), (x, KERB_HEIGHT, z + 1.0), (x, KERB_HEIGHT, z)], color, ground=True)


def _markings(p: _Painter) -> list[tuple[float, float]]:
    lw = 0.13
    for x in (LANE_EDGES[0], LANE_EDGES[-1]):  # edge lines, solid
        p.flat(x - lw / 2, -20, x + lw / 2, Z_ROAD_END, WHITE)
    for x in (-0.12, 0.12):  # double centre line
        p.flat(x - lw / 2, -20, x + lw / 2, Z_ROAD_END, WHITE)
    for x in (LANE_EDGES[1], LANE_EDGES[3]):  # lane lines, dashed
        for z in np.arange(-20.0, 260.0, 8.0):
            p.flat(x - lw / 2, z, x + lw / 2, z + 3.0, WHITE)
    # zebra crossing
    for x in np.arange(LANE_EDGES[0] + 0.2, LANE_EDGES[-1], 1.0):
        p.flat(x, 64.0, x + 0.5, 68.0, WHITE)
    p.flat(LANE_EDGES[0], 63.2, LANE_EDGES[-1], 63.5, WHITE)  # stop line
    # the no-parking zone: yellow box, hatched
    x0, z0, x1, z1 = NO_PARKING_ZONE
    for a, b, c, d in ((x0, z0, x1, z0 + 0.15), (x0, z1 - 0.15, x1, z1), (x0, z0, x0 + 0.15, z1), (x1 - 0.15, z0, x1, z1)):
        p.flat(a, b, c, d, YELLOW)
    for z in np.arange(z0 + 0.8, z1 - 0.8, 1.6):
        p.face([(x0 + 0.2, 0.0, z), (x0 + 0.2, 0.0, z + 0.18), (x1 - 0.2, 0.0, z + 1.0), (x1 - 0.2, 0.0, z + 0.82)], YELLOW, ground=True)
    zone = p.view.polygon(np.array([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)]))
    return zone or []


def _buildings(p: _Painter, rng: np.random.Generator) -> None:
    font = load_font(40)
    blocks = []
    for side in (-1, 1):
        z = -25.0
        while z < 300.0:
            length = float(rng.uniform(7.0, 16.0))
            floors = int(rng.choice([2, 2, 3, 3, 3, 4, 5, 7]))
            blocks.append((side, z, z + length, floors * 3.5 + 0.6, FACADES[int(rng.integers(len(FACADES)))], floors, rng.integers(1 << 30)))
            z += length + (float(rng.uniform(0.0, 4.0)) if rng.uniform() < 0.3 else 0.0)
    for side, z0, z1, height, color, floors, sub_seed in sorted(blocks, key=lambda b: -b[1]):
        sub = np.random.default_rng(int(sub_seed))
        x = side * BUILDING_X
        back = side * (BUILDING_X + 12.0)
        # the end wall towards the camera and the roof, where seen, then the facade
        if z0 > 0:
            p.face([(x, 0, z0), (back, 0, z0), (back, height, z0), (x, height, z0)], tuple(int(c * 0.78) for c in color))
        if height < p.view.height_m:
            p.face([(x, height, z0), (back, height, z0), (back, height, z1), (x, height, z1)], (120, 118, 115))
        fp = p.face([(x, 0, z0), (x, 0, z1), (x, height, z1), (x, height, z0)], color)
        if not fp:
            continue
        depth = float(p.view.to_camera(np.array([[x, 0, (z0 + z1) / 2]]))[0, 2])
        if depth > 150:
            continue
        xf = x - side * 0.02
        # ground floor: rolling shutters or open shop fronts, a signboard above
        units = max(1, int((z1 - z0) // 4.5))
        uw = (z1 - z0) / units
        for i in range(units):
            a, b = z0 + i * uw + 0.3, z0 + (i + 1) * uw - 0.3
            shop = (52, 48, 44) if sub.uniform() < 0.5 else (150, 152, 156)
            p.face([(xf, 0, a), (xf, 0, b), (xf, 2.7, b), (xf, 2.7, a)], shop)
            if shop[0] > 100:
                for y in np.arange(0.3, 2.7, 0.3):
                    p.face([(xf - side * 0.01, y, a), (xf - side * 0.01, y, b), (xf - side * 0.01, y + 0.04, b), (xf - side * 0.01, y + 0.04, a)], (120, 122, 126))
            sign_color = SIGN_COLORS[int(sub.integers(len(SIGN_COLORS)))]
            quad = [(xf - side * 0.05, 3.5, a), (xf - side * 0.05, 3.5, b), (xf - side * 0.05, 2.85, b), (xf - side * 0.05, 2.85, a)]
            if side > 0:
                quad = [quad[1], quad[0], quad[3], quad[2]]  # read left to right from the road
            sp = p.view.polygon(np.array(quad))
            if sp and len(sp) == 4 and depth < 90:
                name = SHOP_NAMES[int(sub.integers(len(SHOP_NAMES)))]
                paste_warped(p.image, _signboard(name, sign_color, font), [sp[0], sp[1], sp[2], sp[3]], (HAZE_NIGHT if p.night else HAZE_DAY, float(haze(depth, p.night))))
            elif sp:
                p.face(np.array(quad), sign_color)
        # upper floors: windows
        for f in range(1, floors):
            y0 = f * 3.5 + 0.9
            for a in np.arange(z0 + 0.8, z1 - 1.6, 2.6):
                win = [(xf, y0, a), (xf, y0, a + 1.5), (xf, y0 + 1.5, a + 1.5), (xf, y0 + 1.5, a)]
                wp = p.face(win, (80, 92, 104))
                if wp and p.night and sub.uniform() < 0.35:
                    p.lit_windows.append(wp)


def _signboard(name: str, color: tuple[int, int, int], font) -> Image.Image:
    fg = (20, 20, 20) if sum(color) > 500 else (250, 250, 245)
    d = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    box = d.textbbox((0, 0), name, font=font)
    w, h = box[2] - box[0] + 40, 64
    img = Image.new("RGBA", (w, h), (*color, 255))
    ImageDraw.Draw(img).text((20 - box[0], (h - (box[3] - box[1])) / 2 - box[1]), name, font=font, fill=fg)
    return img


def _lamps(p: _Painter) -> None:
    pole = (110, 112, 116)
    for hx, hz in lamp_positions(150.0):
        side = 1 if hx > 0 else -1
        px = side * LAMP_POLE_X
        p.begin_prop(px, hz)
        p.face([(px - 0.08, 0, hz), (px + 0.08, 0, hz), (px + 0.08, LAMP_HEIGHT, hz), (px - 0.08, LAMP_HEIGHT, hz)], pole)
        p.face([(px, LAMP_HEIGHT - 0.05, hz), (hx, LAMP_HEIGHT - 0.05, hz), (hx, LAMP_HEIGHT + 0.08, hz), (px, LAMP_HEIGHT + 0.08, hz)], pole)
        head = p.face([(hx - side * 0.6, LAMP_HEIGHT - 0.15, hz), (hx, LAMP_HEIGHT - 0.15, hz), (hx, LAMP_HEIGHT + 0.05, hz), (hx - side * 0.6, LAMP_HEIGHT + 0.05, hz)], (200, 200, 190))
        p.end_prop()
        if head:
            us, vs = [q[0] for q in head], [q[1] for q in head]
            p.glows.append(((min(us) + max(us)) / 2, max(vs), max(4.0, (max(us) - min(us)) * 1.6)))


def _no_parking_sign(p: _Painter) -> None:
    """Indonesian "dilarang parkir": a P in a red ring, struck through."""
    x, z = -(KERB_X + 0.4), NO_PARKING_ZONE[1] + 0.5
    mask = p.begin_prop(x, z)
    p.face([(x - 0.04, 0, z), (x + 0.04, 0, z), (x + 0.04, 2.2, z), (x - 0.04, 2.2, z)], (120, 120, 125))
    cam = p.view.to_camera(np.array([(x, 2.45, z), (x + 0.3, 2.45, z)]))
    p.end_prop()
    if cam[:, 2].min() < 1:
        return
    (u, v), (u2, _) = p.view.to_pixels(cam)
    r = max(2.0, abs(u2 - u))
    d = p.draw
    d.ellipse((u - r, v - r, u + r, v + r), fill=(200, 25, 30))
    mask.ellipse((u - r, v - r, u + r, v + r), fill=255)
    d.ellipse((u - r * 0.78, v - r * 0.78, u + r * 0.78, v + r * 0.78), fill=(245, 245, 245))
    if r >= 6:
        font = load_font(max(6, int(r * 1.2)))
        d.text((u, v), "P", font=font, fill=(20, 20, 20), anchor="mm")
    d.line((u - r * 0.6, v - r * 0.6, u + r * 0.6, v + r * 0.6), fill=(200, 25, 30), width=max(1, int(r * 0.22)))


def _air(arr: np.ndarray, p: _Painter, view: View, night: bool, rng: np.random.Generator) -> None:
    """Ground texture and haze; at night darkness and lamp light."""
    gx, gz, depth, valid = view.ground_points()
    ground = (np.asarray(p.ground) > 0) & valid
    hz = np.where(ground, haze(depth, night), 0.0)[..., None]
    noise = rng.normal(0.0, 5.0, size=arr.shape[:2]).astype(np.float32)[..., None]
    arr += np.where(ground[..., None], noise * (1 - hz), 0.0)
    if night:
        light = np.where(ground, lamp_light(gx, gz), 0.0)[..., None]
        arr *= 0.14 + 0.95 * light * np.array([1.0, 0.88, 0.66])
    tint = np.array(HAZE_NIGHT if night else HAZE_DAY, dtype=np.float32)
    arr[:] = arr * (1 - hz) + tint * hz


def _label(image: Image.Image, label: str) -> None:
    if not label:
        return
    size = max(10, image.width // 48)
    font = load_font(size)
    d = ImageDraw.Draw(image)
    d.text((size // 2, size // 2), label, font=font, fill=(250, 250, 250), stroke_width=max(1, size // 8), stroke_fill=(0, 0, 0))


def add_glows(image: Image.Image, glows: list[tuple[float, float, float, tuple[int, int, int]]]) -> Image.Image:
    """Add soft round lights (u, v, radius, colour) to ``image``."""
    if not glows:
        return image
    arr = np.asarray(image).astype(np.float32)
    glow_into(arr, glows)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def glow_into(arr: np.ndarray, glows: list[tuple[float, float, float, tuple[int, int, int]]]) -> None:
    """Add soft round lights to a float RGB array, in place."""
    h, w = arr.shape[:2]
    for u, v, r, color in glows:
        r = max(1.5, float(r))
        x0, x1 = max(0, int(u - r)), min(w, int(u + r) + 1)
        y0, y1 = max(0, int(v - r)), min(h, int(v + r) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d2 = ((xx - u) ** 2 + (yy - v) ** 2) / (r * r)
        k = np.clip(1.0 - d2, 0.0, 1.0) ** 2
        arr[y0:y1, x0:x1] += k[..., None] * np.array(color, dtype=np.float32) * 0.9
