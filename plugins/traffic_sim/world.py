"""Who is on the street and where, at every moment of the loop.

:func:`build_world` turns a scenario and a seed into actors with tracks;
everything random comes from one seeded generator, drawn in a fixed order, so
a seed always gives the same street.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from plugins.traffic_sim import plates
from plugins.traffic_sim.geometry import BUILDING_X, LANES, TRAFFIC_LANES, Z_BEHIND, Z_GONE, View, lane_x
from plugins.traffic_sim.scenarios import Gathering, Key, Scenario

VEHICLE_KINDS = ("car", "motorcycle", "truck", "bus")
KIND_WEIGHTS = {"car": 0.47, "motorcycle": 0.38, "truck": 0.08, "bus": 0.07}
CAR_SHAPES = ("sedan", "mpv", "hatchback", "suv")
CAR_COLORS = (
    (235, 235, 232), (236, 236, 236), (180, 183, 188), (150, 152, 158), (30, 30, 34),
    (40, 40, 46), (160, 25, 30), (30, 60, 130), (120, 90, 60), (70, 95, 70),
)
MOTO_COLORS = ((25, 25, 28), (170, 20, 25), (30, 50, 140), (225, 225, 225), (60, 60, 64))
TRUCK_COLORS = ((220, 190, 40), (40, 110, 60), (210, 80, 30), (40, 80, 160), (225, 225, 220))
BUS_COLORS = ((30, 90, 170), (230, 230, 225), (200, 40, 40), (40, 130, 90))
SHIRTS = ((200, 40, 40), (40, 70, 160), (230, 230, 230), (30, 30, 30), (230, 180, 40), (60, 140, 80), (150, 60, 140))
PANTS = ((30, 35, 60), (40, 40, 40), (110, 90, 70), (60, 60, 70), (20, 20, 25))
SKINS = ((198, 150, 110), (175, 125, 85), (150, 105, 70), (215, 170, 130))
HELMETS = ((20, 20, 20), (220, 220, 220), (200, 30, 30), (30, 60, 150), (230, 200, 30))


@dataclass(frozen=True)
class Pose:
    x: float
    z: float
    heading: float  # degrees from +z towards +x
    speed: float  # metres per second


@dataclass(frozen=True)
class Look:
    """How a person looks."""

    height: float
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    helmet: tuple[int, int, int] | None = None


class KeyTrack:
    """Straight segments between keys; visible only inside ``[0, span]`` of local time.

    Local time is ``(t - offset) mod 1``: a track can start late in the loop and
    finish early in the next, so background people come and go seamlessly.
    """

    def __init__(self, keys: tuple[Key, ...], loop_s: float, offset: float = 0.0, vehicle: bool = True):
        if len(keys) < 2 or any(b.at < a.at for a, b in zip(keys, keys[1:])):
            raise ValueError("a track needs two or more keys in time order")
        self.keys = keys
        self.loop_s = loop_s
        self.offset = offset
        self.span = keys[-1].at
        self.vehicle = vehicle
        self._yaw, yaw = [], 0.0
        for k in keys:
            yaw = yaw if k.yaw is None else k.yaw
            self._yaw.append(yaw)
        xs = [lane_x(k.x) for k in keys]
        self._xz = [(x, k.z) for x, k in zip(xs, keys)]
        # the direction of travel of each segment; a pause keeps the last one
        self._dir: list[float] = []
        last = None
        for (x0, z0), (x1, z1) in zip(self._xz, self._xz[1:]):
            if math.hypot(x1 - x0, z1 - z0) > 1e-6:
                last = (0.0 if z1 >= z0 else 180.0) if vehicle else math.degrees(math.atan2(x1 - x0, z1 - z0))
            self._dir.append(last)  # type: ignore[arg-type]
        first = next((d for d in self._dir if d is not None), 0.0)
        self._dir = [first if d is None else d for d in self._dir]

    def local(self, t: float) -> float:
        return (t - self.offset) % 1.0 if self.offset else t

    def visible(self, t: float) -> bool:
        return self.local(t) <= self.span + 1e-9

    def pose(self, t: float) -> Pose:
        s = min(self.local(t), self.span)
        i = 0
        while i < len(self.keys) - 2 and s > self.keys[i + 1].at:
            i += 1
        a, b = self.keys[i], self.keys[i + 1]
        (x0, z0), (x1, z1) = self._xz[i], self._xz[i + 1]
        dur = b.at - a.at
        p = 0.0 if dur <= 0 else min(max((s - a.at) / dur, 0.0), 1.0)
        e, de = _ease(b.ease, p)
        x, z = x0 + (x1 - x0) * e, z0 + (z1 - z0) * e
        dist = math.hypot(x1 - x0, z1 - z0)
        speed = 0.0 if dur <= 0 else dist * de / (dur * self.loop_s)
        yaw = self._yaw[i] + (self._yaw[i + 1] - self._yaw[i]) * e
        return Pose(x, z, self._dir[i] + yaw, speed)


class LaneTrack:
    """Background traffic: an endless stream along a lane, ``laps`` passes per loop."""

    def __init__(self, x: float, away: bool, laps: int, phase: float, loop_s: float):
        self.x, self.away, self.laps, self.phase = x, away, laps, phase
        self.length = Z_GONE - Z_BEHIND
        self.speed = self.length * laps / loop_s

    def visible(self, t: float) -> bool:
        return True

    def pose(self, t: float) -> Pose:
        s = (self.phase + self.laps * t) % 1.0
        if self.away:
            return Pose(self.x, Z_BEHIND + s * self.length, 0.0, self.speed)
        return Pose(self.x, Z_GONE - s * self.length, 180.0, self.speed)


def _ease(kind: str, p: float) -> tuple[float, float]:
    """Progress along a segment and its rate, for progress in time ``p``."""
    if kind == "out":
        return 1 - (1 - p) ** 2, 2 * (1 - p)
    if kind == "in":
        return p * p, 2 * p
    return p, 1.0


@dataclass
class Actor:
    id: str
    kind: str  # car, motorcycle, truck, bus, person
    track: KeyTrack | LaneTrack
    color: tuple[int, int, int] = (200, 200, 200)
    shape: str | None = None
    plate: plates.Plate | None = None
    plate_style: str = "white"
    look: Look | None = None  # a person, or a motorcycle's rider
    role: str | None = None  # the script's name for a scripted actor
    hazard_from: float | None = None
    down: tuple[float, float] | None = None  # a person lying on the road over this part of the loop


@dataclass(frozen=True)
class Event:
    type: str
    actors: tuple[str, ...]
    start: float  # fraction of the loop
    end: float
    zone: str | None = None


@dataclass
class World:
    view: View
    night: bool
    loop_s: float
    actors: list[Actor] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    seed: int = 0


def build_world(scenario: Scenario, seed: int, width: int, height: int, loop_s: float, night: bool) -> World:
    rng = np.random.default_rng(seed)
    view = View(
        width,
        height,
        fov_deg=float(rng.uniform(48.0, 54.0)),
        x=float(rng.uniform(-11.5, -10.5)),
        height_m=float(rng.uniform(6.5, 7.8)),
        pitch_deg=float(rng.uniform(14.5, 17.0)),
        yaw_deg=float(rng.uniform(9.0, 12.5)),
    )
    world = World(view, night, loop_s, seed=seed)
    counter = iter(range(1, 10_000))

    for name in TRAFFIC_LANES:
        if name in scenario.closed_lanes or scenario.traffic <= 0:
            continue
        away = LANES[name] < 0
        target = float(rng.uniform(7.0, 11.0))  # m/s: city traffic, 25-40 km/h
        laps = max(1, round(target * loop_s / (Z_GONE - Z_BEHIND)))
        n = int(rng.integers(max(1, scenario.traffic - 1), scenario.traffic + 2))
        n = min(n, int((Z_GONE - Z_BEHIND) / 14))  # at least 14 m apart
        base = rng.uniform(0, 1)
        for j in range(n):
            phase = (base + (j + rng.uniform(-0.25, 0.25)) / n) % 1.0
            kind = str(rng.choice(VEHICLE_KINDS, p=[KIND_WEIGHTS[k] for k in VEHICLE_KINDS]))
            if kind == "bus" and name.endswith("inner"):
                kind = "car"  # buses keep to the kerb lane
            x = LANES[name] + (float(rng.uniform(-0.9, 0.9)) if kind == "motorcycle" else float(rng.uniform(-0.2, 0.2)))
            actor = _vehicle(rng, f"v{next(counter)}", kind, LaneTrack(x, away, laps, phase, loop_s))
            world.actors.append(actor)

    for j in range(scenario.pedestrians):
        world.actors.append(_stroller(rng, f"p{j + 1}", loop_s))

    for script in scenario.actors:
        track = KeyTrack(script.keys, loop_s, vehicle=script.kind != "person")
        if script.kind == "person":
            actor = Actor(script.name, "person", track, look=_look(rng), role=script.name, down=script.down)
        else:
            actor = _vehicle(rng, script.name, script.kind, track, shape=script.shape)
            actor.role = script.name
            actor.hazard_from = script.hazard_from
        world.actors.append(actor)
    for ev in scenario.events:
        world.events.append(Event(ev.type, ev.actors, ev.start, ev.end, ev.zone))

    for gathering in scenario.gatherings:
        members, event = _gather(rng, gathering, loop_s, view)
        world.actors.extend(members)
        world.events.append(event)
    return world


def _vehicle(rng: np.random.Generator, id: str, kind: str, track, shape: str | None = None) -> Actor:
    if kind == "car":
        shape = shape or str(rng.choice(CAR_SHAPES))
        color = CAR_COLORS[int(rng.integers(len(CAR_COLORS)))]
    elif kind == "motorcycle":
        shape, color = "motorcycle", MOTO_COLORS[int(rng.integers(len(MOTO_COLORS)))]
    elif kind == "truck":
        shape, color = "truck", TRUCK_COLORS[int(rng.integers(len(TRUCK_COLORS)))]
    else:
        shape, color = "bus", BUS_COLORS[int(rng.integers(len(BUS_COLORS)))]
    plate = plates.generate(rng, kind, area="KT" if rng.uniform() < 0.9 else str(rng.choice(["DA", "KB", "DD", "B", "L"])))
    style = "white" if rng.uniform() < 0.6 else "black"
    look = _look(rng, helmet=True) if kind == "motorcycle" else None
    return Actor(id, kind, track, color=color, shape=shape, plate=plate, plate_style=style, look=look)


def _look(rng: np.random.Generator, helmet: bool = False) -> Look:
    return Look(
        height=float(rng.uniform(1.55, 1.82)),
        shirt=SHIRTS[int(rng.integers(len(SHIRTS)))],
        pants=PANTS[int(rng.integers(len(PANTS)))],
        skin=SKINS[int(rng.integers(len(SKINS)))],
        hair=(25, 20, 18),
        helmet=HELMETS[int(rng.integers(len(HELMETS)))] if helmet else None,
    )


def _walk_keys(points: list[tuple[float, float]], start: float, end: float) -> list[Key]:
    """Keys along ``points``, leaving at ``start`` and arriving at ``end``, at an even pace."""
    legs = [math.hypot(x1 - x0, z1 - z0) for (x0, z0), (x1, z1) in zip(points, points[1:])]
    total = sum(legs) or 1.0
    keys, t = [Key(start, points[0][0], points[0][1])], start
    for (x, z), leg in zip(points[1:], legs):
        t += (end - start) * leg / total
        keys.append(Key(t, x, z))
    keys[-1] = Key(end, points[-1][0], points[-1][1])
    return keys


def _walk_time(points: list[tuple[float, float]], speed: float, loop_s: float) -> float:
    return sum(math.hypot(x1 - x0, z1 - z0) for (x0, z0), (x1, z1) in zip(points, points[1:])) / speed / loop_s


def _stroller(rng: np.random.Generator, id: str, loop_s: float) -> Actor:
    """Out of one doorway, along the sidewalk, into another."""
    side = 1.0 if rng.uniform() < 0.5 else -1.0
    walk = LANES["walk_far"] if side > 0 else LANES["walk_near"]
    door = side * (BUILDING_X + 0.2)
    speed = float(rng.uniform(1.1, 1.5))
    span = float(rng.uniform(0.55, 0.9))
    along = max(4.0, speed * span * loop_s - 2 * abs(door - walk))
    z0 = float(rng.uniform(14.0, 60.0))
    z1 = z0 + along if rng.uniform() < 0.5 or z0 - along < 12.0 else z0 - along
    path = [(door, z0), (walk + float(rng.uniform(-0.6, 0.6)), z0), (walk, z1), (door, z1)]
    keys = _walk_keys(path, 0.0, min(0.95, _walk_time(path, speed, loop_s)))
    track = KeyTrack(tuple(keys), loop_s, offset=float(rng.uniform(0, 1)), vehicle=False)
    return Actor(id, "person", track, look=_look(rng))


def _figure(view: View, p: tuple[float, float]) -> tuple[float, float, float, float, float]:
    """A person standing at ground point ``p``, seen from the camera: (depth, u1, v1, u2, v2)."""
    (foot, head), depth = view.project(np.array([(p[0], 0.0, p[1]), (p[0], 1.7, p[1])]))
    half = 0.14 * (foot[1] - head[1])  # a standing figure is about 0.28 of its height wide
    return float(depth[0]), foot[0] - half, head[1], foot[0] + half, foot[1]


def _hidden(figures: list[tuple[float, float, float, float, float]], k: int) -> float:
    """The share of figure ``k`` that nearer figures cover (overlaps summed: an upper bound)."""
    d, u1, v1, u2, v2 = figures[k]
    covered = 0.0
    for j, (dj, a1, b1, a2, b2) in enumerate(figures):
        if j != k and dj < d:
            covered += max(0.0, min(u2, a2) - max(u1, a1)) * max(0.0, min(v2, b2) - max(v1, b1))
    return covered / max((u2 - u1) * (v2 - v1), 1e-9)


def _gather(rng: np.random.Generator, g: Gathering, loop_s: float, view: View) -> tuple[list[Actor], Event]:
    cx = lane_x(g.x)
    side = 1.0 if cx > 0 else -1.0
    door = side * (BUILDING_X + 0.2)
    slots: list[tuple[float, float]] = []
    figures: list[tuple[float, float, float, float, float]] = []
    tries = 0
    while len(slots) < g.count:
        a, r = rng.uniform(0, 2 * math.pi), g.radius * math.sqrt(rng.uniform(0, 1))
        p = (cx + r * math.sin(a) * 0.55, g.z + r * math.cos(a))  # the sidewalk is narrow: squeeze across
        if not all(math.hypot(p[0] - q[0], p[1] - q[1]) > 0.75 for q in slots):
            continue
        tries += 1
        trial = figures + [_figure(view, p)]
        # every member, this one and those it would stand in front of, stays countable; after many
        # tries the radius is too small for that, and a slot anywhere is taken
        if g.max_hidden < 1.0 and tries < 5000 and any(_hidden(trial, k) > g.max_hidden for k in range(len(trial))):
            continue
        slots.append(p)
        figures = trial
    arrivals = sorted(float(v) for v in rng.uniform(*g.arrive, g.count))
    leaves = sorted(float(v) for v in rng.uniform(*g.leave, g.count))
    members = []
    for i, ((sx, sz), arrive, leave) in enumerate(zip(slots, arrivals, leaves)):
        speed = float(rng.uniform(1.1, 1.4))
        # come from, and go to, doorways no further than can be walked in time
        reach_in = speed * arrive * loop_s * 0.8 - 4.0
        reach_out = speed * (1.0 - leave) * loop_s * 0.8 - 4.0
        zin = g.z + float(rng.uniform(-1, 1)) * min(18.0, max(1.0, reach_in))
        zout = g.z + float(rng.uniform(-1, 1)) * min(18.0, max(1.0, reach_out))
        walk_in = [(door, zin), (cx, zin), (sx, sz)]
        walk_out = [(sx, sz), (cx, zout), (door, zout)]
        t_in = min(_walk_time(walk_in, speed, loop_s), arrive)
        t_out = min(_walk_time(walk_out, speed, loop_s), 1.0 - leave)
        keys = _walk_keys(walk_in, arrive - t_in, arrive) + _walk_keys(walk_out, leave, leave + t_out)
        if keys[0].at > 0.0:
            keys.insert(0, Key(0.0, door, zin))  # inside, out of sight
        if keys[-1].at < 1.0:
            keys.append(Key(1.0, door, zout))
        track = KeyTrack(tuple(keys), loop_s, vehicle=False)
        members.append(Actor(f"{g.name}{i + 1}", "person", track, look=_look(rng), role=g.name))
    start = arrivals[g.min_count - 1]
    end = leaves[g.count - g.min_count]
    event = Event(g.name, tuple(m.id for m in members), start, end)
    return members, event
