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


@dataclass(frozen=True)
class EventScript:
    type: str
    actors: tuple[str, ...]
    start: float
    end: float
    zone: str | None = None


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


FREE_FLOW = Scenario(
    name="free_flow",
    description="Ordinary traffic in both directions, people on the sidewalks.",
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
                Key(0.95, "walk_near", 16.0),
                Key(1.0, -13.2, 16.0),
            ),
        ),
    ),
    events=(EventScript("loiter", ("loiterer",), 0.05, 0.95),),
)

CROWD = Scenario(
    name="crowd",
    description="People come out of the shops on the far side and gather on the sidewalk, then leave.",
    pedestrians=4,
    gatherings=(
        Gathering(
            name="crowd",
            count=12,
            x="walk_far",
            z=42.0,
            radius=2.6,
            arrive=(0.08, 0.45),
            leave=(0.8, 0.95),
            min_count=8,
        ),
    ),
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

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (FREE_FLOW, NO_PARKING_STOP, COLLISION, LOITER_NIGHT, CROWD, DELIVERY_STOP, QUEUE, PERSON_DOWN, BUS_STOP, STOP_LINE_STOP)
}
