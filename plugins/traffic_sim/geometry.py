"""The street and the camera that looks at it.

World coordinates are metres: ``x`` across the road (positive to the camera's
right), ``y`` up, ``z`` along the road away from the camera's foot. Traffic
keeps left, as in Indonesia: lanes with ``x < 0`` drive away from the camera
(their rear plates face it), lanes with ``x > 0`` come towards it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Named positions across the road (lane and sidewalk centres), in metres.
LANES: dict[str, float] = {
    "walk_near": -11.25,
    "shoulder_away": -8.25,
    "away_kerb": -5.25,
    "away_inner": -1.75,
    "toward_inner": 1.75,
    "toward_kerb": 5.25,
    "shoulder_toward": 8.25,
    "walk_far": 11.25,
}
TRAFFIC_LANES = ("away_kerb", "away_inner", "toward_inner", "toward_kerb")
LANE_EDGES = (-7.0, -3.5, 0.0, 3.5, 7.0)  # painted lines between and beside lanes
KERB_X = 9.5  # kerbs at +-KERB_X; carriageway incl. shoulders within
BUILDING_X = 13.0  # building fronts at +-BUILDING_X
KERB_HEIGHT = 0.15

# The no-parking zone: the shoulder on the camera's side, painted yellow.
NO_PARKING_ZONE = (-9.4, 18.0, -7.1, 32.0)  # x0, z0, x1, z1

# Background traffic runs from behind the camera to where haze hides it.
Z_BEHIND = -14.0
Z_GONE = 185.0
Z_ROAD_END = 420.0

NEAR = 0.3  # near clipping distance, metres


def lane_x(x: float | str) -> float:
    return LANES[x] if isinstance(x, str) else float(x)


@dataclass(frozen=True)
class View:
    """A pinhole camera on a pole beside the road."""

    width: int
    height: int
    fov_deg: float = 52.0  # horizontal
    x: float = -11.0
    height_m: float = 7.0
    pitch_deg: float = 16.0  # down
    yaw_deg: float = 11.0  # towards +x
    f: float = field(init=False)
    origin: np.ndarray = field(init=False, repr=False, compare=False)
    basis: np.ndarray = field(init=False, repr=False, compare=False)  # rows: right, up, forward

    def __post_init__(self) -> None:
        f = (self.width / 2) / math.tan(math.radians(self.fov_deg) / 2)
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        forward = np.array([math.sin(yaw) * math.cos(pitch), -math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
        right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
        up = np.cross(forward, right)
        if up[1] < 0:
            up = -up
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "origin", np.array([self.x, self.height_m, 0.0]))
        object.__setattr__(self, "basis", np.stack([right, up, forward]))

    def to_camera(self, pts: np.ndarray) -> np.ndarray:
        """World points (N, 3) to camera space (N, 3): right, up, depth."""
        return (np.asarray(pts, dtype=float) - self.origin) @ self.basis.T

    def to_pixels(self, cam: np.ndarray) -> np.ndarray:
        """Camera-space points with depth > 0 to pixel coordinates (N, 2)."""
        depth = cam[:, 2]
        u = self.width / 2 + self.f * cam[:, 0] / depth
        v = self.height / 2 - self.f * cam[:, 1] / depth
        return np.stack([u, v], axis=1)

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = self.to_camera(pts)
        return self.to_pixels(np.maximum(cam, [-np.inf, -np.inf, NEAR])), cam[:, 2]

    def polygon(self, pts: np.ndarray) -> list[tuple[float, float]] | None:
        """A world polygon clipped at the near plane, in pixels; ``None`` if unseen."""
        cam = self.to_camera(pts)
        if np.all(cam[:, 2] >= NEAR):
            clipped = cam
        elif np.all(cam[:, 2] < NEAR):
            return None
        else:
            clipped = _clip_near(cam)
            if len(clipped) < 3:
                return None
        px = self.to_pixels(clipped)
        if px[:, 0].max() < 0 or px[:, 0].min() > self.width or px[:, 1].max() < 0 or px[:, 1].min() > self.height:
            return None
        return [(float(u), float(v)) for u, v in px]

    def polygons(self, pts: np.ndarray, sizes: list[int]) -> list[list[tuple[float, float]] | None]:
        """Many world polygons at once (vertices stacked, ``sizes`` each), as :meth:`polygon`."""
        cam = self.to_camera(pts)
        if cam[:, 2].min() < NEAR:
            out, i = [], 0
            for n in sizes:
                out.append(self.polygon(pts[i : i + n]))
                i += n
            return out
        px = self.to_pixels(cam).tolist()
        out, i = [], 0
        for n in sizes:
            poly = px[i : i + n]
            i += n
            us = [p[0] for p in poly]
            vs = [p[1] for p in poly]
            if max(us) < 0 or min(us) > self.width or max(vs) < 0 or min(vs) > self.height:
                out.append(None)
            else:
                out.append([(u, v) for u, v in poly])
        return out

    def horizon_row(self) -> float:
        far = self.origin + np.array([0.0, 0.0, 1e6]) - np.array([0.0, self.height_m, 0.0])
        return float(self.project(far[None, :])[0][0, 1])

    def ground_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For every pixel, where its ray meets the ground: (x, z, depth, valid mask)."""
        u = np.arange(self.width) + 0.5 - self.width / 2
        v = self.height / 2 - (np.arange(self.height) + 0.5)
        uu, vv = np.meshgrid(u / self.f, v / self.f)
        right, up, forward = self.basis
        d = forward[None, None, :] + uu[..., None] * right + vv[..., None] * up
        valid = d[..., 1] < -1e-6
        t = np.where(valid, -self.height_m / np.where(valid, d[..., 1], -1.0), 0.0)
        x = self.x + t * d[..., 0]
        z = t * d[..., 2]
        return x, z, t, valid


def _clip_near(cam: np.ndarray) -> np.ndarray:
    out = []
    n = len(cam)
    for i in range(n):
        a, b = cam[i], cam[(i + 1) % n]
        a_in, b_in = a[2] >= NEAR, b[2] >= NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            s = (NEAR - a[2]) / (b[2] - a[2])
            out.append(a + s * (b - a))
    return np.array(out)


def haze(depth: float | np.ndarray, night: bool) -> float | np.ndarray:
    """How much of a colour the air replaces at ``depth`` metres (0..1)."""
    start, full = (35.0, 150.0) if night else (60.0, 185.0)
    return np.clip((np.asarray(depth) - start) / (full - start), 0.0, 1.0) ** 1.3


def mix(color: tuple[float, float, float], other: tuple[float, float, float], k: float) -> tuple[int, int, int]:
    return tuple(int(round(c + (o - c) * k)) for c, o in zip(color, other))  # type: ignore[return-value]


def yaw_matrix(heading_deg: float) -> np.ndarray:
    """Local (x right, y up, z forward) to world, for a heading from +z towards +x."""
    a = math.radians(heading_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


# Street lamps on both kerbs; their light falls on the road below the arm.
LAMP_SPACING = 25.0
LAMP_FIRST_Z = -9.0  # the row goes on behind the camera, out of sight: the road at its foot is lit too
LAMP_HEIGHT = 8.0
LAMP_POLE_X = 10.0  # poles at +-LAMP_POLE_X, heads reach 2 m over the road
# LED road lanterns spread their light along the road, so that the darkest point between two lamps
# still gets about 40 % of the brightest (the uniformity a lit urban road is designed for)
LAMP_SPREAD = 8.0


def lamp_positions(z_max: float = 200.0) -> list[tuple[float, float]]:
    """(x, z) of every lamp head; one row on each side, staggered."""
    heads = []
    z = LAMP_FIRST_Z
    while z < z_max:
        heads.append((-(LAMP_POLE_X - 2.0), z))
        heads.append((LAMP_POLE_X - 2.0, z + LAMP_SPACING / 2))
        z += LAMP_SPACING
    return heads


def lamp_light(x: np.ndarray | float, z: np.ndarray | float) -> np.ndarray | float:
    """Light from the street lamps on the ground at (x, z), about 0..1."""
    total = np.zeros(np.broadcast(np.asarray(x), np.asarray(z)).shape)
    for lx, lz in lamp_positions():
        d2 = (np.asarray(x) - lx) ** 2 + (np.asarray(z) - lz) ** 2
        total = total + np.exp(-d2 / (2 * LAMP_SPREAD**2))
    return np.minimum(total, 1.2)


# Daylight from high behind the camera's left; ambient light at night.
SUN = np.array([-0.35, 0.85, -0.4]) / np.linalg.norm([-0.35, 0.85, -0.4])
HAZE_DAY = (196, 204, 214)
HAZE_NIGHT = (8, 9, 14)


def shade(normal: np.ndarray, night: bool, lamp: float = 0.0) -> float:
    """Brightness of a face with outward ``normal`` (world)."""
    if night:
        return 0.16 + 0.75 * lamp * (0.5 + 0.5 * max(0.0, float(normal[1])))
    return 0.55 + 0.5 * max(0.0, float(normal @ SUN))
