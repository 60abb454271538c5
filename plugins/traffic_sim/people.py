"""People: pedestrians and motorcycle riders, drawn upright facing the camera.

Proportions follow a standing adult (hips at about half the height, shoulders
at 0.82, head a little over an eighth). The legs and arms swing with the
walking pace. The person lying down is a 3D body (``body.draw_lying``).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from plugins.traffic_sim.geometry import View, mix
from plugins.traffic_sim.world import Look


def _darker(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (int(c[0] * k), int(c[1] * k), int(c[2] * k))


def figure_box(view: View, x: float, z: float, height: float, base_y: float = 0.0) -> tuple[float, float, float, float, float] | None:
    """(u, v_foot, v_head, pixel height, depth) of an upright figure, ``None`` if behind."""
    pts = np.array([(x, base_y, z), (x, base_y + height, z)])
    cam = view.to_camera(pts)
    if cam[:, 2].min() < 1.0:
        return None
    px = view.to_pixels(cam)
    (u, vf), (_, vh) = px
    return float(u), float(vf), float(vh), float(vf - vh), float(cam[0, 2])


def draw_person(
    draw: ImageDraw.ImageDraw,
    view: View,
    x: float,
    z: float,
    look: Look,
    phase: float,
    stride: float,
    light: float,
    haze_color: tuple[int, int, int],
    hz: float,
    back: bool,
    shadow: bool,
) -> tuple[float, float, float, float] | None:
    """Draw a standing or walking person; return the pixel box."""
    box = figure_box(view, x, z, look.height)
    if box is None:
        return None
    u, vf, vh, ph, _ = box
    if ph < 3:
        return None
    w = ph * 0.32

    def col(c: tuple[int, int, int], k: float = 1.0) -> tuple[int, int, int]:
        return mix(_darker(c, min(1.0, light * k)), haze_color, hz)

    def at(dx: float, dy: float) -> tuple[float, float]:
        """Offsets in person-heights from the feet, up positive."""
        return (u + dx * ph, vf - dy * ph)

    if shadow:
        draw.ellipse((u - w * 0.8, vf - ph * 0.03, u + w * 0.8, vf + ph * 0.03), fill=mix((40, 40, 42), haze_color, hz))
    swing = math.sin(phase) * stride
    # legs: from the hips to the feet, swinging in opposite directions
    for sgn, k in ((-1, 0.85), (1, 1.0)):
        foot = sgn * 0.045 + sgn * swing * 0.12
        hip = sgn * 0.05
        leg = [at(hip - 0.06, 0.52), at(hip + 0.06, 0.52), at(foot + 0.045, 0.03), at(foot - 0.045, 0.03)]
        draw.polygon(leg, fill=col(look.pants, k))
        draw.polygon([at(foot - 0.045, 0.035), at(foot + 0.045, 0.035), at(foot + 0.05, 0.0), at(foot - 0.05, 0.0)], fill=col((25, 25, 25)))
    # arms behind the torso's edges
    for sgn in (-1, 1):
        # hands a little away from the hips, so that a gap shows between arm and body: the outline
        # of arms, legs and head is what a detector knows a person by (measured: bench/README.md)
        hand = sgn * 0.22 - sgn * swing * 0.06
        arm = [at(sgn * 0.13, 0.8), at(sgn * 0.19, 0.78), at(hand + sgn * 0.035, 0.47), at(hand - sgn * 0.025, 0.47)]
        draw.polygon(arm, fill=col(look.shirt, 0.8))
        draw.ellipse((*at(hand - 0.03, 0.49), *at(hand + 0.035, 0.44)), fill=col(look.skin))
    # torso, with a shaded side
    # sloping shoulders into the neck: a square top read less as a person
    draw.polygon([at(-0.06, 0.845), at(0.06, 0.845), at(0.15, 0.82), at(0.17, 0.79), at(0.13, 0.5), at(-0.13, 0.5), at(-0.17, 0.79), at(-0.15, 0.82)], fill=col(look.shirt))
    draw.polygon([at(0.06, 0.845), at(0.15, 0.82), at(0.17, 0.79), at(0.13, 0.5), at(0.05, 0.5)], fill=col(look.shirt, 0.78))
    # neck and head
    draw.rectangle((*at(-0.025, 0.86), *at(0.025, 0.81)), fill=col(look.skin, 0.85))
    hx0, hy0 = at(-0.07, 1.0)
    hx1, hy1 = at(0.07, 0.855)
    draw.ellipse((hx0, hy0, hx1, hy1), fill=col(look.skin))
    if back:
        draw.ellipse((hx0, hy0, hx1, hy1 - (hy1 - hy0) * 0.15), fill=col(look.hair))
    else:
        draw.chord((hx0, hy0, hx1, hy1), 180, 360, fill=col(look.hair))
    # the outermost hand (arm edge 0.035 beyond it) or foot (0.05 beyond it), as drawn above
    right = max(0.255 - 0.06 * swing, 0.095 + 0.12 * swing)
    left = min(-0.255 + 0.06 * swing, -0.095 - 0.12 * swing)
    return (u + left * ph, vh, u + right * ph, vf)


LEGS = 0.76  # a seated rider's feet below the seat, in seat-to-helmet heights


def draw_rider(
    draw: ImageDraw.ImageDraw,
    view: View,
    x: float,
    z: float,
    look: Look,
    light: float,
    haze_color: tuple[int, int, int],
    hz: float,
    back: bool,
    upper_body=None,
) -> tuple[float, float, float, float] | None:
    """A rider seated on a motorcycle at (x, z): torso, arms, helmet; legs at the sides.

    ``upper_body(u, v_seat, height_px)``, when given, puts a real person's head and torso on the seat
    (``photo_people.seat``) in place of the drawn ones; the helmet goes on top of it."""
    seat_y = 0.88
    box = figure_box(view, x, z, look.height * 0.52, base_y=seat_y)
    if box is None:
        return None
    u, vs, vh, ph, _ = box  # ph: seat to helmet top
    if ph < 3:
        return None

    def col(c: tuple[int, int, int], k: float = 1.0) -> tuple[int, int, int]:
        return mix(_darker(c, min(1.0, light * k)), haze_color, hz)

    def at(dx: float, dy: float) -> tuple[float, float]:
        return (u + dx * ph, vs - dy * ph)

    # thighs and shins hang on both sides of the machine, down to the feet on the footboard: the
    # detector's box on a rider reaches the feet (its boxes ran a third of the figure below the old legs)
    for sgn in (-1, 1):
        draw.polygon([at(sgn * 0.1, 0.05), at(sgn * 0.3, 0.02), at(sgn * 0.32, -0.68), at(sgn * 0.22, -0.68)], fill=col(look.pants, 0.9))
        draw.polygon([at(sgn * 0.21, -0.66), at(sgn * 0.33, -0.66), at(sgn * 0.34, -LEGS), at(sgn * 0.2, -LEGS)], fill=col((25, 25, 25)))
    if upper_body is not None:  # the arms reach forward, hidden by the body
        upper_body(u, vs, ph)
    else:
        # a neck between helmet and shoulders, and sloping shoulders: a helmet sat on a square was a ghost
        draw.rectangle((*at(-0.05, 0.74), *at(0.05, 0.6)), fill=col(look.skin, 0.8))
        draw.polygon([at(-0.12, 0.64), at(0.12, 0.64), at(0.27, 0.57), at(0.28, 0.5), at(0.22, 0.0), at(-0.22, 0.0), at(-0.28, 0.5), at(-0.27, 0.57)], fill=col(look.shirt))
        draw.polygon([at(0.07, 0.64), at(0.12, 0.64), at(0.27, 0.57), at(0.28, 0.5), at(0.22, 0.0), at(0.08, 0.0)], fill=col(look.shirt, 0.78))
        for sgn in (-1, 1):  # arms reach forward to the handlebar
            draw.polygon([at(sgn * 0.22, 0.56), at(sgn * 0.3, 0.54), at(sgn * 0.42, 0.2), at(sgn * 0.33, 0.2)], fill=col(look.shirt, 0.85))
    helmet = look.helmet or look.hair
    hx0, hy0 = at(-0.135, 1.0)
    hx1, hy1 = at(0.135, 0.7)
    draw.ellipse((hx0, hy0, hx1, hy1), fill=col(helmet))
    if not back:
        draw.chord((hx0 + (hx1 - hx0) * 0.15, hy0 + (hy1 - hy0) * 0.35, hx1 - (hx1 - hx0) * 0.15, hy1 - (hy1 - hy0) * 0.08), 0, 360, fill=col((30, 35, 45)))
    w = ph * 0.45
    return (u - w, vh, u + w, vs + LEGS * ph)

