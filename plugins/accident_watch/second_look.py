"""A second look for a person who vanished on the carriageway: the picture turned a quarter, both ways.

Detectors trained on COCO know people standing up. A person who falls in a
lane is seen walking, then the detector loses them: lying down they are a
low, wide shape it scores as nothing (on the simulator's ``person_down``, a
"bird" at 0.21). Turned a quarter, a lying person stands up again, and the
same model finds them (0.8-0.9 on the same frames). So, for each person the
tracker has just lost in a lane, the analyzer cuts a square around where they
stood, turns it 90 degrees each way, asks the deployment's detector
(``services.detector``) about both, and turns the person it finds back: a wide
box where the person lies. The rule then sees the person again, lying, and
judges them as it judges any person down (``down_aspect`` for ``down_s``).

Pure geometry here; the analyzer does the asking. Cost: two small views per
person lost in a lane per analysed frame, for at most ``look_s`` after the loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.analytics.tracker import Track

Box = tuple[float, float, float, float]
TURNS = (1, 3)  # np.rot90's k: a quarter turn anticlockwise, then clockwise (the head may lie either way)
AROUND = 3.5  # the square's side, in the person's standing height: about the detector's own scale, and room to lie either way
MIN_SIDE = 96  # pixels: smaller squares are enlarged (a far person)
AHEAD_S = 0.4  # a person whose box, carried on at its speed this long past the loss, reaches the edge walked out


@dataclass(frozen=True)
class Look:
    """One lost person's square: the track, and the square's corner and side in frame pixels."""

    track: Track
    x: int
    y: int
    side: int


def candidates(
    tracks: Iterable[Track], people: set[str], now: float, look_s: float, width: int, height: int,
    in_lane, limit: int, lying: Mapping[int, float] | None = None,
) -> list[Look]:
    """The people worth a second look: lost (not seen this frame) at most ``look_s`` ago, last seen in
    a lane (``in_lane(box)``) and upright (a box taller than wide), and not leaving the picture: neither
    at its edge nor beyond it when carried on at the track's speed for :data:`AHEAD_S` past the loss (a
    rider passing out of view is lost a frame before the edge).

    ``lying``: track id -> when a second look last found that person lying. They come first, and their
    ``look_s`` runs from then: a person still lying there keeps their look however many others the
    tracker loses meanwhile (in a busy street, walkers and riders lost a moment ago would otherwise take
    the ``limit`` looks a frame, and the fallen person would drop out before ``down_s``). Then the
    latest lost first."""
    lying = lying or {}
    found = []
    for t in tracks:
        if t.label not in people or t.state != "lost" or now - max(t.last_seen, lying.get(t.id, t.last_seen)) > look_s:
            continue
        x1, y1, x2, y2 = t.box
        ahead = max(0.0, now - t.last_seen) + AHEAD_S
        dx, dy = t.velocity[0] * ahead, t.velocity[1] * ahead
        if min(x1, x1 + dx) <= 1 or min(y1, y1 + dy) <= 1 or max(x2, x2 + dx) >= width - 1 or max(y2, y2 + dy) >= height - 1:
            continue
        if x2 - x1 >= y2 - y1 or not in_lane(t.box):
            continue  # wider than tall: not someone seen upright who fell (often a rider or a vehicle read as a person)
        tall = y2 - y1
        side = int(min(max(AROUND * tall, MIN_SIDE), width, height))
        cx, cy = (x1 + x2) / 2, y2 - 0.2 * tall  # lying, the body is about where the feet were
        x = int(min(max(cx - side / 2, 0), width - side))
        y = int(min(max(cy - side / 2, 0), height - side))
        found.append(Look(t, x, y, side))
    found.sort(key=lambda look: (look.track.id not in lying, -lying.get(look.track.id, look.track.last_seen)))
    return found[:limit]


def views(image_rgb: np.ndarray, looks: Sequence[Look]) -> list[np.ndarray]:
    """Each look's square, turned each way of :data:`TURNS` (contiguous copies, ready for a detector)."""
    out = []
    for look in looks:
        square = image_rgb[look.y : look.y + look.side, look.x : look.x + look.side]
        out += [np.ascontiguousarray(np.rot90(square, k)) for k in TURNS]
    return out


def unturn(box: Box, k: int, width: int, height: int) -> Box:
    """A box found in ``np.rot90(square, k)`` as a box of the square (``width`` x ``height``) itself."""
    x1, y1, x2, y2 = box
    if k % 4 == 1:  # turned anticlockwise: the square's x is width - y, its y is x
        return (width - y2, x1, width - y1, x2)
    if k % 4 == 3:  # turned clockwise: the square's x is y, its y is height - x
        return (y1, height - x2, y2, height - x1)
    if k % 4 == 2:
        return (width - x2, height - y2, width - x1, height - y1)
    return box


def found_lying(
    looks: Sequence[Look], detections: Sequence[Sequence], people: set[str], min_score: float, aspect: float,
    now: float,
) -> list[Track]:
    """The looked-at tracks seen again, lying: each a copy of its track, tracked now, with the best
    person box of its two views turned back (at least ``aspect`` times as wide as tall) as its box."""
    seen = []
    for i, look in enumerate(looks):
        best = None
        for j, k in enumerate(TURNS):
            for d in detections[len(TURNS) * i + j]:
                if d.label not in people or d.score < min_score:
                    continue
                x1, y1, x2, y2 = unturn(d.box, k, look.side, look.side)
                if x2 - x1 < aspect * (y2 - y1):
                    continue  # not wide in the picture itself: someone standing, not a person down
                if best is None or d.score > best[0]:
                    best = (d.score, (x1 + look.x, y1 + look.y, x2 + look.x, y2 + look.y))
        if best is not None:
            score, box = best
            seen.append(dataclasses.replace(look.track, box=box, score=score, state="tracked", last_seen=now))
    return seen
