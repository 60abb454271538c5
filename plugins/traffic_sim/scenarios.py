"""Scenario scripts: what happens on the street, as data.

Times are fractions of the loop, so a script fits any loop length; positions
are metres (``x`` may name a lane of :data:`geometry.LANES`). A scripted actor
moves through its keys; between two keys it goes in a straight line, evenly
(``linear``), braking (``out``) or pulling away (``in``). Background traffic
and pedestrians are generated from the seed, and the loop is seamless: every
actor is out of sight, or where it started, at both ends of the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    at: float  # fraction of the loop, 0..1
    x: float | str  # metres across the road, or a lane name
    z: float  # metres along the road
    ease: str = "linear"  # how the actor reaches this key: linear, out (brakes), in (accelerates)
    yaw: float | None = None  # degrees added to the heading from here on (a skid); None keeps the last


@dataclass(frozen=True)
class ScriptedActor:
    name: str
    kind: str  # car, motorcycle, truck, bus, person
    keys: tuple[Key, ...]
    shape: str | None = None  # a fixed body shape (see vehicles.SHAPES), else drawn from the seed
    hazard_from: float | None = None  # hazard lights blink from this fraction of the loop on
    down: tuple[float, float] | None = None  # a person lies on the road over this part of the loop


@dataclass(frozen=True)
class Gathering:
    """People walk in from doorways, stand together, and walk back out."""

    name: str
    count: int
    x: float | str
    z: float
    radius: float
    arrive: tuple[float, float]  # arrivals spread over this part of the loop
    leave: tuple[float, float]
    min_count: int  # the event lasts while at least this many stand together
    # seen from the camera, at most this share of a member's standing figure lies behind others: the truth's
    # crowd is one a perfect detector can count (1.0: slots anywhere, as before)
    max_hidden: float = 1.0


@dataclass(frozen=True)
class EventScript:
    type: str
    actors: tuple[str, ...]
    start: float
    end: float
    zone: str | None = None


@dataclass(frozen=True)
class Junction:
    """A signalised junction ahead (``junction.py`` draws it): stop line, signal head, speed lines."""

    stop_z: float | None = 30.0  # metres: the stop line across the lanes going away; None: none
    signal: tuple[tuple[float, str], ...] = ()  # (from this fraction of the loop, lamp lit), in order, from 0.0
    speed_lines: tuple[float, float] | None = None  # z of two lines across the road: a camera calibrated for speed
    speed_limit_kmh: float | None = None  # the limit the calibration states for this camera; None: the rule's


@dataclass(frozen=True)
class GroundZone:
    """A zone of the scene for the rules, a rectangle on the ground in metres; the truth file holds it in pixels."""

    id: str
    kind: str  # a zone kind (core.analytics.zones.ZoneKind): watched_area, restricted_area ...
    x0: float
    z0: float
    x1: float
    z1: float


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    night: bool = False
    traffic: int = 5  # background vehicles per lane and period
    pedestrians: int = 6
    closed_lanes: tuple[str, ...] = ()  # no background traffic here: the script uses the lane
    actors: tuple[ScriptedActor, ...] = ()
    gatherings: tuple[Gathering, ...] = field(default_factory=tuple)
    events: tuple[EventScript, ...] = ()
    junction: Junction | None = None
    zones: tuple[GroundZone, ...] = ()  # zones beside the painted no-parking box, in the truth file


FREE_FLOW = Scenario(
    name="free_flow",
    description="Ordinary traffic in both directions, people on the sidewalks.",
    # a hard negative for crime watch: people walk along both sidewalks through these, none for long
    zones=(
        GroundZone("watched", "watched_area", -13.0, 16.0, -9.5, 32.0),
        GroundZone("watched-far", "watched_area", 9.5, 30.0, 13.0, 46.0),
    ),
)

NO_PARKING_STOP = Scenario(
    name="no_parking_stop",
    description="A car pulls into the yellow no-parking zone, stays for most of the loop, then drives off.",
    actors=(
        ScriptedActor(
            name="parker",
            kind="car",
            shape="mpv",
            keys=(
                Key(0.0, "shoulder_away", -14.0),
                Key(0.06, "shoulder_away", 6.0),
                Key(0.16, "shoulder_away", 25.0, ease="out"),
                Key(0.78, "shoulder_away", 25.0),
                Key(0.86, "shoulder_away", 45.0, ease="in"),
                Key(1.0, "shoulder_away", 190.0),
            ),
        ),
    ),
    events=(EventScript("no_parking_stop", ("parker",), 0.16, 0.78, zone="no_parking"),),
)

COLLISION = Scenario(
    name="collision",
    description="A car brakes hard; the one behind runs into it. Both stop, skewed, hazards on.",
    closed_lanes=("away_kerb",),
    actors=(
        ScriptedActor(
            name="lead",
            kind="car",
            shape="sedan",
            hazard_from=0.36,
            keys=(
                Key(0.0, "away_kerb", -14.0),
                Key(0.22, "away_kerb", 22.0),
                Key(0.33, "away_kerb", 32.0, ease="out"),
                Key(0.36, -5.0, 33.2, ease="out", yaw=-7.0),
                Key(1.0, -5.0, 33.2),
            ),
        ),
        ScriptedActor(
            name="follower",
            kind="car",
            shape="sedan",
            hazard_from=0.38,
            keys=(
                Key(0.0, "away_kerb", -30.0),
                Key(0.33, "away_kerb", 27.6),  # bumper to bumper: both sedans are 4.4 m long
                Key(0.36, -5.6, 27.9, ease="out", yaw=9.0),
                Key(1.0, -5.6, 27.9),
            ),
        ),
    ),
    events=(EventScript("collision", ("lead", "follower"), 0.33, 1.0),),
)

LOITER_NIGHT = Scenario(
    name="loiter_night",
    description="At night a person steps out of a doorway and lingers under a street lamp.",
    night=True,
    traffic=2,
    pedestrians=2,
    actors=(
        ScriptedActor(
            name="loiterer",
            kind="person",
            keys=(
                Key(0.0, -13.2, 16.0),
                Key(0.05, "walk_near", 16.0),
                Key(0.2, -11.0, 19.0),
                Key(0.35, -12.0, 15.0),
                Key(0.5, -10.5, 18.0),
                Key(0.65, -12.2, 16.5),
                Key(0.8, -11.0, 19.0),
                # then walks off along the sidewalk, out of the watched area, and into a shop further up:
                # the next loop's loiterer is someone else, not the same person back from a doorway
                Key(0.84, "walk_near", 20.0),
                Key(0.98, "walk_near", 26.0),
                Key(1.0, -13.2, 26.5),
            ),
        ),
    ),
    events=(EventScript("loiter", ("loiterer",), 0.05, 0.93),),
    zones=(GroundZone("watched", "watched_area", -13.0, 12.0, -9.5, 24.0),),  # the near sidewalk by the lamp
)

CROWD = Scenario(
    name="crowd",
    description="People come out of the shops on the far side and gather on the sidewalk, then leave.",
    pedestrians=4,
    gatherings=(
        Gathering(
            name="crowd",
            count=12,
            x=10.0,  # on the far sidewalk and spilling onto the shoulder
            z=48.0,
            radius=5.0,  # loosely, along the sidewalk: packed tighter, the people behind are hidden from the camera
            arrive=(0.08, 0.45),
            leave=(0.8, 0.95),
            min_count=8,
            max_hidden=0.3,  # seed 303 packed several behind others: 5-8 countable, never 8 for long
        ),
    ),
    zones=(GroundZone("watched", "watched_area", 7.0, 40.0, 13.0, 56.0),),  # the far sidewalk and shoulder where they gather
)

DELIVERY_STOP = Scenario(
    name="delivery_stop",
    description="A box truck stops in the no-parking zone for a short delivery, hazards on, then drives on.",
    actors=(
        ScriptedActor(
            name="courier",
            kind="truck",
            hazard_from=0.24,
            keys=(
                Key(0.0, "shoulder_away", -14.0),
                Key(0.1, "shoulder_away", 8.0),
                Key(0.25, "shoulder_away", 24.0, ease="out"),
                Key(0.45, "shoulder_away", 24.0),
                Key(0.55, "shoulder_away", 44.0, ease="in"),
                Key(1.0, "shoulder_away", 190.0),
            ),
        ),
    ),
    # a hard negative: the stop (about 20 % of the loop) is shorter than any parking threshold
)


def _queued(name: str, behind: float, stop_z: float, go: float) -> ScriptedActor:
    return ScriptedActor(
        name=name,
        kind="car",
        keys=(
            Key(0.0, "away_kerb", -14.0 - behind),
            Key(0.12, "away_kerb", stop_z - 12.0),
            Key(0.2, "away_kerb", stop_z, ease="out"),
            Key(go, "away_kerb", stop_z),
            Key(go + 0.1, "away_kerb", stop_z + 22.0, ease="in"),
            Key(1.0, "away_kerb", 190.0 + behind),
        ),
    )


QUEUE = Scenario(
    name="queue",
    description="Three cars queue in the kerb lane beside the no-parking zone, as at a red light, then move off.",
    closed_lanes=("away_kerb",),
    actors=(_queued("queue1", 0.0, 31.0, 0.6), _queued("queue2", 8.0, 25.0, 0.62), _queued("queue3", 16.0, 19.0, 0.64)),
    # a hard negative: standing in a traffic lane is queueing, not parking: no event
)

# --- a signalised junction: red light, wrong way, speed ------------------------------------

STOP_Z = 30.0
CYCLE = ((0.0, "green"), (0.05, "amber"), (0.1, "red"), (0.55, "green"))  # red 10 %-55 % of the loop
SEDAN_HALF = 2.2  # a sedan's half length: its box's bottom (the rear, going away) is this far behind its centre


def _at(keys: tuple[Key, ...], z: float) -> float:
    """The fraction of the loop a linear track along ``keys`` reaches ``z`` (its centre)."""
    for a, b in zip(keys, keys[1:]):
        if min(a.z, b.z) <= z <= max(a.z, b.z) and a.z != b.z:
            return round(a.at + (b.at - a.at) * (z - a.z) / (b.z - a.z), 4)
    raise ValueError(f"the track never reaches z={z}")


def _waiting(name: str, lane: str, place: int, go: float) -> ScriptedActor:
    """A sedan that stops at the red, ``place`` cars back from the line, and goes on green."""
    stop = STOP_Z - 0.5 - SEDAN_HALF - place * 6.5
    behind = place * 8.0
    return ScriptedActor(
        name=name,
        kind="car",
        shape="sedan",
        keys=(
            Key(0.0, lane, -14.0 - behind),
            Key(0.12 + place * 0.03, lane, stop - 12.0),
            Key(0.22 + place * 0.03, lane, stop, ease="out"),
            Key(go, lane, stop),
            Key(go + 0.1, lane, stop + 22.0, ease="in"),
            Key(0.97, lane, 190.0),
            Key(1.0, lane, 190.0 + behind),
        ),
    )


_RUNNER = (
    Key(0.0, "away_inner", -14.0),
    Key(0.25, "away_inner", -14.0),
    Key(0.5, "away_inner", 90.0),
    Key(0.62, "away_inner", 190.0),
    Key(1.0, "away_inner", 190.0),
)
_RUN_AT = _at(_RUNNER, STOP_Z + SEDAN_HALF)  # its rear, the box's bottom, passes the line

RED_LIGHT = Scenario(
    name="red_light",
    description="A junction ahead: a car waits at the red in the kerb lane while another runs the red in the inner lane.",
    closed_lanes=("away_kerb", "away_inner"),
    junction=Junction(stop_z=STOP_Z, signal=CYCLE),
    actors=(
        ScriptedActor(name="runner", kind="car", shape="sedan", keys=_RUNNER),
        _waiting("waiter", "away_kerb", 0, 0.58),
    ),
    events=(EventScript("red_light", ("runner",), _RUN_AT, min(_RUN_AT + 0.05, 1.0), zone="stop_line"),),
)

RED_LIGHT_WAIT = Scenario(
    name="red_light_wait",
    description="Cars stop at the red, queue behind the stop line, and go on green.",
    closed_lanes=("away_kerb", "away_inner"),
    junction=Junction(stop_z=STOP_Z, signal=CYCLE),
    actors=(
        _waiting("wait1", "away_inner", 0, 0.57),
        _waiting("wait2", "away_inner", 1, 0.59),
        _waiting("wait3", "away_kerb", 0, 0.58),
        _waiting("wait4", "away_kerb", 1, 0.6),
    ),
    # a hard negative: every car waits behind the line through the red and crosses on green
)

_AGAINST = (
    Key(0.0, "away_kerb", 190.0),
    Key(0.15, "away_kerb", 190.0),
    Key(0.75, "away_kerb", -14.0),
    Key(1.0, "away_kerb", -14.0),
)

WRONG_WAY = Scenario(
    name="wrong_way",
    description="A car comes down the kerb lane of the carriageway going away, against the traffic, towards the camera.",
    closed_lanes=("away_kerb",),
    junction=Junction(stop_z=None),
    actors=(ScriptedActor(name="ghost", kind="car", shape="sedan", keys=_AGAINST),),
    # from where it is near enough to see (the lane zone's far end, 110 m) until it passes the camera
    events=(EventScript("wrong_way", ("ghost",), _at(_AGAINST, 110.0), _at(_AGAINST, 11.0), zone="lane_away"),),
)

SPEED_LINES = (25.0, 45.0)  # well inside the picture: a car at 82 km/h is seen ~0.5 s before the first, and tracked at 10 fps on 960x540
_SPEEDER = (
    Key(0.0, "away_inner", -14.0),
    Key(0.2, "away_inner", -14.0),
    Key(0.5, "away_inner", 190.0),  # 204 m in 30 % of the loop: 82 km/h on a 30 s loop
    Key(1.0, "away_inner", 190.0),
)
_PAST_LINES = _at(_SPEEDER, SPEED_LINES[1] + SEDAN_HALF)

SPEEDING = Scenario(
    name="speeding",
    description="A camera calibrated with two lines 20 m apart; traffic at city speeds and one car far over the limit.",
    closed_lanes=("away_inner",),
    # the background keeps to 25-48 km/h (two laps of the road in a 30 s loop); 60 km/h leaves the measurement room
    junction=Junction(stop_z=None, speed_lines=SPEED_LINES, speed_limit_kmh=60.0),
    actors=(ScriptedActor(name="speeder", kind="car", shape="sedan", keys=_SPEEDER),),
    events=(EventScript("speeding", ("speeder",), _PAST_LINES, min(_PAST_LINES + 0.05, 1.0)),),
)

PERSON_DOWN = Scenario(
    name="person_down",
    description="A person steps off the kerb into the kerb lane, falls and lies there, then gets up and walks back.",
    closed_lanes=("away_kerb",),
    actors=(
        ScriptedActor(
            name="faller",
            kind="person",
            down=(0.3, 0.8),
            keys=(
                Key(0.0, -13.2, 24.0),
                Key(0.06, "walk_near", 24.0),
                Key(0.25, -5.2, 24.5),
                Key(0.3, -5.0, 24.6),
                Key(0.8, -5.0, 24.6),
                Key(0.9, "walk_near", 24.0),
                Key(1.0, -13.2, 24.0),
            ),
        ),
    ),
    events=(EventScript("person_down", ("faller",), 0.3, 0.8),),
)

BUS_STOP = Scenario(
    name="bus_stop",
    description="A bus pulls into the bus stop in the kerb lane, waits with its doors open, then pulls off.",
    closed_lanes=("away_kerb",),
    actors=(
        ScriptedActor(
            name="bus",
            kind="bus",
            keys=(
                Key(0.0, "away_kerb", -20.0),
                Key(0.12, "away_kerb", 10.0),
                Key(0.22, "away_kerb", 28.0, ease="out"),
                Key(0.6, "away_kerb", 28.0),
                Key(0.7, "away_kerb", 50.0, ease="in"),
                Key(1.0, "away_kerb", 200.0),
            ),
        ),
    ),
    # a hard negative: a bus standing at its stop (a queue_area zone) is no accident
)

STOP_LINE_STOP = Scenario(
    name="stop_line_stop",
    description="Two cars stop at the stop line before the zebra crossing, as at a red light, then move off.",
    closed_lanes=("away_kerb",),
    actors=(_queued("waiter1", 0.0, 60.5, 0.6), _queued("waiter2", 8.0, 54.5, 0.62)),
    # a hard negative: stopping in the stop_line strip is what it is for
)


def _runner(name: str, x: float, z: float, arrive: float, go: float, z_far: float) -> ScriptedActor:
    """Out of a doorway on the near side, stands with the group, then sprints across the road and away."""
    return ScriptedActor(
        name=name,
        kind="person",
        keys=(
            Key(0.0, -13.2, z),
            Key(arrive - 0.1, -13.2, z),
            Key(arrive, x, z),  # 2-3 m at a stroll
            Key(go, x, z),
            Key(go + 0.04, x + 2.7, z + 0.6, ease="in"),  # 1.2 s from standing to 4.5 m/s
            Key(go + 0.04 + (11.0 - x - 2.7) / 4.5 / 30.0, 11.0, z_far),
            Key(go + 0.2, 13.2, z_far + 1.0),
            Key(1.0, 13.2, z_far + 1.0),
        ),
    )


RUNNING = Scenario(
    name="running",
    description="Four people stand together on the near sidewalk, then all at once break into a run across the road.",
    traffic=0,  # the road is clear: they run across it
    pedestrians=3,
    actors=(
        _runner("runner1", -11.6, 18.0, 0.18, 0.50, 23.0),
        _runner("runner2", -10.8, 19.2, 0.22, 0.51, 24.5),
        _runner("runner3", -11.9, 20.4, 0.26, 0.50, 26.0),
        _runner("runner4", -10.6, 21.5, 0.30, 0.52, 27.5),
    ),
    events=(EventScript("running", ("runner1", "runner2", "runner3", "runner4"), 0.50, 0.72),),
    zones=(GroundZone("watched", "watched_area", -13.0, 14.0, 13.0, 30.0),),  # the street, building to building
)


def _pedestrian(name: str, z: float, come: float, go: float, speed: float) -> ScriptedActor:
    """Out of a doorway, along the near sidewalk to the zebra crossing, waits at the kerb, then walks across."""
    cross = (10.0 + 10.0) / speed / 30.0
    return ScriptedActor(
        name=name,
        kind="person",
        keys=(
            Key(0.0, -13.2, z - 4.5),
            Key(come, -13.2, z - 4.5),
            Key(come + 0.05, "walk_near", z - 4.0),
            Key(come + 0.15, "walk_near", z),
            Key(come + 0.17, -10.0, z),  # steps to the kerb and waits
            Key(go, -10.0, z),
            Key(go + cross, 10.0, z),
            Key(go + cross + 0.06, 13.2, z + 1.0),
            Key(1.0, 13.2, z + 1.0),
        ),
    )


CROSSING_WAIT = Scenario(
    name="crossing_wait",
    description="People wait at the kerb of the zebra crossing, then walk across together.",
    closed_lanes=("away_kerb", "away_inner", "toward_inner", "toward_kerb"),  # traffic held at the crossing
    pedestrians=3,
    actors=(
        _pedestrian("walker1", 64.6, 0.00, 0.40, 1.4),
        _pedestrian("walker2", 65.4, 0.02, 0.41, 1.5),
        _pedestrian("walker3", 66.2, 0.04, 0.40, 1.3),
        _pedestrian("walker4", 67.0, 0.06, 0.42, 1.45),
        _pedestrian("walker5", 67.6, 0.08, 0.41, 1.35),
    ),
    # a hard negative: several people start moving at once, at a walk: not running. Each waits 4-7 s and is
    # in the watched area under 15 s, so that no short test threshold calls it loitering
    zones=(GroundZone("watched", "watched_area", -10.6, 62.0, 0.0, 70.0),),  # the crossing's near half
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (FREE_FLOW, NO_PARKING_STOP, COLLISION, LOITER_NIGHT, CROWD, DELIVERY_STOP, QUEUE, PERSON_DOWN, BUS_STOP,
              STOP_LINE_STOP, RUNNING, CROSSING_WAIT)
}
SCENARIOS.update({s.name: s for s in (RED_LIGHT, RED_LIGHT_WAIT, WRONG_WAY, SPEEDING)})
