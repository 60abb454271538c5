"""A person as a small 3D body: used for a person lying on the road (``draw_lying``, from the renderer).

A skeleton of joints (feet, knees, hips, shoulders, elbows, hands, head), laid on its back across the
road with one knee raised and an arm out, is projected through the camera like everything else, so it
is foreshortened from above as a real body on the tarmac is. Limbs and the trunk are tapered capsules
shaded as cylinders (a darker edge away from the light), the head an ellipse with hair. The figure is
drawn four times larger into a small patch and reduced with area averaging, so its edges are soft as a
camera's. Clothes and shoes come from a hash of the person's id (``style_of``), so nothing is drawn
from the world's random stream.

Its joints are a standing skeleton (``_walk``) laid down. Drawn upright, walking and riding, the same
body was found less often by the default detector than the flat figures of ``people.py`` (bench/README.md,
"What the picture shows, and people"; in the history of branch v9-people), so only the lying pose is kept.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from plugins.traffic_sim.geometry import View, mix
from plugins.traffic_sim.world import Look

# Everyday clothes seen on a Balikpapan street: muted colours, many white, black, grey and navy.
TOPS = ((235, 235, 230), (30, 30, 32), (110, 110, 115), (40, 55, 95), (150, 35, 40), (60, 95, 70), (200, 170, 120),
        (95, 60, 110), (180, 110, 60), (70, 120, 170), (210, 200, 60), (120, 40, 60))
HIJABS = ((30, 30, 35), (235, 232, 225), (120, 40, 60), (60, 80, 130), (170, 140, 120), (90, 110, 80), (200, 150, 160))
CAPS = ((25, 25, 30), (200, 40, 40), (235, 235, 235), (40, 60, 120))
SHOES = ((25, 25, 28), (230, 230, 230), (90, 60, 40), (40, 40, 45))
BAGS = ((30, 30, 30), (70, 55, 45), (40, 60, 110), (120, 30, 40))
RIM = 0.62  # a limb's edge, away from the light
BULK = 1.0  # widths over a bare body's
ARMX = 0.16  # how far the elbows hang out from the shoulders
STANCE = 1.0  # how far apart a standing person's feet are
SS = 4  # supersampling of a small figure's patch (larger ones: fewer, see _Canvas)


@dataclass(frozen=True)
class Style:
    """What a person wears, beyond the world's ``Look`` (which gives height, shirt, trousers and skin)."""

    head: str  # "hair", "hijab", "cap"
    head_color: tuple[int, int, int]
    long_sleeves: bool
    dress: bool  # a long skirt or gamis to the ankles
    shorts: bool
    shoes: tuple[int, int, int]
    bag: str  # "", "backpack", "shoulder"
    bag_color: tuple[int, int, int]
    top: tuple[int, int, int] | None  # replaces the Look's shirt, for more varied clothes


def style_of(key: str) -> Style:
    r = np.random.default_rng(zlib.crc32(key.encode()))
    u = r.random(8)
    head = "hijab" if u[0] < 0.3 else "cap" if u[0] < 0.42 else "hair"
    head_color = HIJABS[int(u[1] * len(HIJABS))] if head == "hijab" else CAPS[int(u[1] * len(CAPS))] if head == "cap" else (22, 18, 16)
    dress = head == "hijab" and u[2] < 0.45
    return Style(
        head=head,
        head_color=head_color,
        long_sleeves=head == "hijab" or u[3] < 0.3,
        dress=dress,
        shorts=not dress and head != "hijab" and u[4] < 0.15,
        shoes=SHOES[int(u[5] * len(SHOES))],
        bag="backpack" if u[6] < 0.2 else "shoulder" if u[6] < 0.35 else "",
        bag_color=BAGS[int(u[7] * len(BAGS))],
        top=TOPS[int(u[2] * 997) % len(TOPS)] if u[4] > 0.5 else None,
    )


def _darker(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (int(min(255, c[0] * k)), int(min(255, c[1] * k)), int(min(255, c[2] * k)))


def _walk(phase: float, stride: float) -> dict[str, np.ndarray]:
    """Joints of a walking (stride up to 1) or running (above 1) person, feet on the ground."""
    run = max(0.0, min(1.0, stride - 1.0))
    s = min(stride, 1.0)
    j: dict[str, np.ndarray] = {}
    lean = 0.12 * run  # a runner leans forward
    for side, sgn, ph in (("l", -1.0, phase), ("r", 1.0, phase + math.pi)):
        swing = math.sin(ph)
        # standing, one foot a little ahead of the other: a relaxed stance, not a post
        thigh = math.radians((22 + 18 * run) * s * swing + (1 - s) * sgn * 5 * STANCE)
        knee = math.radians((8 + 60 * run) * s * max(0.0, math.cos(ph)) + 4)
        hip = np.array([sgn * 0.055, 0.53, 0.0])
        kn = hip + 0.245 * np.array([sgn * 0.03 * STANCE, -math.cos(thigh), math.sin(thigh)])
        an = kn + 0.245 * np.array([0.0, -math.cos(thigh - knee), math.sin(thigh - knee)])
        j[f"hip_{side}"], j[f"knee_{side}"], j[f"ankle_{side}"] = hip, kn, an
        j[f"toe_{side}"] = an + np.array([0.0, -0.025, 0.1])
        j[f"heel_{side}"] = an + np.array([0.0, -0.03, -0.03])
        # the arm swings against the leg on its side
        arm = math.radians(-(18 + 25 * run) * s * swing)
        elbow_bend = math.radians(12 + 10 * s + 70 * run)
        sh = np.array([sgn * 0.118, 0.815, lean * 0.3])
        # arms hang a hand's width clear of the hips: the gap a detector (and an eye) knows a person by
        el = sh + 0.185 * np.array([sgn * ARMX, -math.cos(arm), math.sin(arm)])
        wr = el + 0.145 * np.array([sgn * ARMX * 0.6, -math.cos(arm + elbow_bend), math.sin(arm + elbow_bend)])
        j[f"shoulder_{side}"], j[f"elbow_{side}"], j[f"wrist_{side}"] = sh, el, wr
        j[f"hand_{side}"] = wr + 0.07 * (wr - el) / 0.145
    j["pelvis"] = np.array([0.0, 0.53, 0.0])
    j["waist"] = np.array([0.0, 0.62, lean * 0.15])
    j["chest"] = np.array([0.0, 0.815, lean * 0.3])
    j["neck"] = np.array([0.0, 0.855, lean * 0.33])
    j["head"] = np.array([0.0, 0.935, lean * 0.36 + 0.01])
    low = min(j[k][1] for k in ("toe_l", "toe_r", "heel_l", "heel_r"))
    for k in j:  # the lower foot stands on the ground
        j[k] = j[k] - np.array([0.0, low, 0.0])
    return j


def _lying() -> dict[str, np.ndarray]:
    """A person on their back, head towards +x, one knee up, arms out: standing joints laid down."""
    j = _walk(0.0, 0.0)
    j["knee_r"] = j["knee_r"] + np.array([0.0, 0.0, 0.12])  # one knee raised (z becomes height below)
    j["elbow_l"] = j["elbow_l"] + np.array([-0.1, 0.05, 0.0])
    j["wrist_l"] = j["wrist_l"] + np.array([-0.18, 0.08, 0.0])
    j["hand_l"] = j["hand_l"] + np.array([-0.22, 0.09, 0.0])
    # body up (y) -> world +x, body right (x) -> world -z, body front (z) -> world up
    return {k: np.array([v[1] - 0.5, v[2] + 0.07, -v[0]]) for k, v in j.items()}


# --- drawing ----------------------------------------------------------------------------------------


class _Canvas:
    """A supersampled RGBA patch around a figure; tracks the figure's pixel box (shadow aside)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, ss: int = SS):
        self.ss = ss
        self.x0, self.y0 = math.floor(lo[0]) - 2, math.floor(lo[1]) - 2
        w, h = math.ceil(hi[0]) + 3 - self.x0, math.ceil(hi[1]) + 3 - self.y0
        self.image = Image.new("RGBA", (w * ss, h * ss), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)
        self.box = [math.inf, math.inf, -math.inf, -math.inf]

    def p(self, uv) -> tuple[float, float]:
        return ((uv[0] - self.x0) * self.ss, (uv[1] - self.y0) * self.ss)

    def grow(self, u0: float, v0: float, u1: float, v1: float) -> None:
        b = self.box
        self.box = [min(b[0], u0), min(b[1], v0), max(b[2], u1), max(b[3], v1)]

    def capsule(self, a, b, ra: float, rb: float, fill, edge=None) -> None:
        """A tapered limb from ``a`` (radius ``ra`` px) to ``b`` (``rb``); ``edge``: a darker rim, for roundness."""
        for color, shrink in ((edge, 1.0), (fill, 0.62)) if edge else ((fill, 1.0),):
            self._capsule(a, b, ra * shrink, rb * shrink, color, lit=edge is not None and shrink < 1, r_full=(ra, rb))
        self.grow(min(a[0] - ra, b[0] - rb), min(a[1] - ra, b[1] - rb), max(a[0] + ra, b[0] + rb), max(a[1] + ra, b[1] + rb))

    def _capsule(self, a, b, ra, rb, fill, lit=False, r_full=(0, 0)) -> None:
        a, b = np.asarray(a, float), np.asarray(b, float)
        if lit:  # the lit core sits towards the light (up and to the left)
            off = np.array([-0.3, -0.15])
            a, b = a + off * r_full[0], b + off * r_full[1]
        d = b - a
        n = np.array([-d[1], d[0]]) / (np.hypot(*d) or 1.0)
        quad = [self.p(a + n * ra), self.p(b + n * rb), self.p(b - n * rb), self.p(a - n * ra)]
        self.draw.polygon(quad, fill=fill)
        for c, r in ((a, ra), (b, rb)):
            x, y = self.p(c)
            self.draw.ellipse((x - r * self.ss, y - r * self.ss, x + r * self.ss, y + r * self.ss), fill=fill)

    def polygon(self, pts, fill) -> None:
        self.draw.polygon([self.p(q) for q in pts], fill=fill)
        us, vs = [q[0] for q in pts], [q[1] for q in pts]
        self.grow(min(us), min(vs), max(us), max(vs))

    def ellipse(self, c, rx: float, ry: float, fill, grow: bool = True) -> None:
        x, y = self.p(c)
        self.draw.ellipse((x - rx * self.ss, y - ry * self.ss, x + rx * self.ss, y + ry * self.ss), fill=fill)
        if grow:
            self.grow(c[0] - rx, c[1] - ry, c[0] + rx, c[1] + ry)

    def paste_into(self, img: Image.Image) -> tuple[float, float, float, float]:
        small = self.image.resize((self.image.width // self.ss, self.image.height // self.ss), Image.BOX)
        img.paste(small, (self.x0, self.y0), small)
        return tuple(self.box)  # type: ignore[return-value]


def _figure(
    img: Image.Image,
    view: View,
    joints: dict[str, np.ndarray],
    scale: float,
    origin: np.ndarray,
    rot: np.ndarray,
    look: Look,
    style: Style,
    light: float,
    haze_color: tuple[int, int, int],
    hz: float,
) -> tuple[float, float, float, float] | None:
    """The body lying on its back, face up; its pixel box (``None`` when behind or too small)."""
    names = list(joints)
    local = np.array([joints[k] for k in names]) * scale
    world = local @ rot + origin
    cam = view.to_camera(world)
    if cam[:, 2].min() < 1.0:
        return None
    px = view.to_pixels(cam)
    P = {k: px[i] for i, k in enumerate(names)}
    D = {k: float(cam[i, 2]) for i, k in enumerate(names)}
    f_px = view.f * scale  # pixels per body unit at depth 1
    height_px = f_px / float(cam[:, 2].mean())
    if height_px < 4:
        return None

    def rad(k: str, r: float) -> float:
        return max(0.6, BULK * r * f_px / D[k])

    def col(c: tuple[int, int, int], k: float = 1.0) -> tuple[int, int, int, int]:
        return (*mix(_darker(c, light * k), haze_color, hz), 255)

    shirt = style.top or look.shirt
    pants = look.pants
    skin = look.skin
    lo, hi = px.min(axis=0), px.max(axis=0)
    m = 0.12 * height_px
    canvas = _Canvas(lo - m, hi + m, SS if height_px < 80 else 3 if height_px < 160 else 2)
    parts: list[tuple[float, object]] = []

    def limb(a: str, b: str, ra: float, rb: float, c: tuple[int, int, int], k: float = 1.0) -> None:
        parts.append(((D[a] + D[b]) / 2, lambda: canvas.capsule(P[a], P[b], rad(a, ra), rad(b, rb), col(c, k), col(c, k * RIM))))

    for side in ("l", "r"):
        # legs: trousers, shins bare under shorts, shoes
        lower = skin if style.shorts else pants
        # limbs in loose everyday clothes, thicker than the bare body
        limb(f"hip_{side}", f"knee_{side}", 0.06, 0.045, pants)
        limb(f"knee_{side}", f"ankle_{side}", 0.043, 0.032, lower)
        limb(f"heel_{side}", f"toe_{side}", 0.028, 0.024, style.shoes, 0.9)
        # arms: a sleeve over the upper arm (and forearm when long), the hand bare
        limb(f"shoulder_{side}", f"elbow_{side}", 0.042, 0.034, shirt, 0.95)
        limb(f"elbow_{side}", f"wrist_{side}", 0.032 if style.long_sleeves else 0.026, 0.024, shirt if style.long_sleeves else skin, 0.95)
        limb(f"wrist_{side}", f"hand_{side}", 0.024, 0.02, skin, 0.9)

    def torso() -> None:  # the body's axis lies across the picture: its width is a limb's
        canvas.capsule(P["waist"], P["pelvis"], rad("waist", 0.1), rad("pelvis", 0.1), col(pants), col(pants, 0.62))
        canvas.capsule(P["chest"], P["waist"], rad("chest", 0.125), rad("waist", 0.1), col(shirt), col(shirt, 0.62))
        canvas.capsule(P["neck"], P["chest"], rad("neck", 0.026), rad("chest", 0.03), col(skin, 0.85))

    def head() -> None:  # face up: hair round the back of the head
        c = P["head"]
        ry = rad("head", 0.068)  # the head an eighth of the height, hair on top
        rx = ry * 0.74
        canvas.ellipse(c, rx, ry, col(skin))
        x, y = canvas.p(c)
        ss = canvas.ss
        canvas.draw.chord((x - rx * ss, y - ry * ss, x + rx * ss, y + ry * ss), 180 - 15, 360 + 15, fill=col((22, 18, 16)))

    parts.append((D["chest"] + 0.0, torso))
    parts.append((D["head"] - 0.001, head))
    for _, paint in sorted(parts, key=lambda it: -it[0]):
        paint()
    return canvas.paste_into(img)


def draw_lying(
    img: Image.Image,
    view: View,
    x: float,
    z: float,
    look: Look,
    light: float,
    haze_color: tuple[int, int, int],
    hz: float,
    key: str = "",
) -> tuple[float, float, float, float] | None:
    """A person lying on their back across the road, head towards +x; return the pixel box."""
    style = style_of(key)
    style = Style("hair", style.head_color, style.long_sleeves, False, style.shorts, style.shoes, "", style.bag_color, style.top)
    return _figure(img, view, _lying(), look.height, np.array([x, 0.0, z]), np.eye(3), look, style, light, haze_color, hz)
