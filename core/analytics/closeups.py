"""Close-ups: the zones where people matter, looked at enlarged beside the whole frame.

A detector sees a frame shrunk to its input (a 300x300 SSD sees a 1280x720
frame cut in tiles at about 0.6 of its size); a person 40-50 px tall on a far
pavement is then 25-30 px, where a small detector finds one in two. The rules
that count people (a crowd, runners, a loiterer, someone in a restricted area)
judge them only inside their zones. So each analysed frame also goes to the
detector as a few squares over those zones (``[analytics] closeup_kinds``),
each the detector's input divided by ``closeup_zoom`` (a 300x300 model at
1.75: 171 px squares, enlarged 1.75 times), from a little above the zone
(people stand on it; their heads are above it) to its bottom, at most
``closeup_views`` squares a frame (larger squares, less zoom, when the zones
need more). What they find of ``closeup_labels`` joins the whole frame's
detections; a box cut by a square's inner edge is left to the whole frame
(it is a part of someone), and boxes of one object from two views are one
(the higher score kept, IoU ``MERGE_IOU``).

Measured on the simulator's ``crowd`` scene at 1280x720 with the default
detector (``tests/test_closeups.py``): of the 12 people standing in the
watched area (each at least 0.7 in view), 5-6 found by day on the whole frame
(a box at IoU 0.5), 10-12 with 1.75x close-ups, no box where nobody stands; in
a crowd this close a person now and then gets a second, narrower box (IoU
under ``MERGE_IOU`` with the first), which the tracker's duplicate rule takes as
one. At night (measured before the crowd's stand was made countable) 2-5
against 5-6 of the 8 at least half in view. The cost is the squares: a zone a quarter of the
picture wide is 2-4 more small views of the model a frame, only on cameras
with such zones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analytics.assignment import boxes_array, iou_matrix
from core.analytics.detector import Detection

MERGE_IOU = 0.5  # boxes of one label from two views overlapping this much are one object
HEAD_ROOM = 0.1  # of the picture's height above a zone's top: the people standing on its far edge
OVERLAP = 0.25  # neighbouring squares share this much of their side (nobody falls between two)
MIN_SIDE = 48  # pixels: a smaller square says nothing


@dataclass(frozen=True)
class CloseUps:
    """What the deployment's ``[analytics] closeup_*`` settings say (an empty ``kinds``: none)."""

    kinds: frozenset[str] = frozenset()
    zoom: float = 1.75
    views: int = 4
    labels: frozenset[str] = frozenset({"person"})

    @classmethod
    def of(cls, settings: Any) -> CloseUps:
        return cls(frozenset(settings.closeup_kinds), settings.closeup_zoom, settings.closeup_views,
                   frozenset(settings.closeup_labels))


@dataclass(frozen=True)
class Square:
    x: int
    y: int
    side: int


def plan(zones: Sequence[Any], width: int, height: int, input_size: tuple[int, int], closeups: CloseUps) -> list[Square]:
    """The squares that cover the zones of ``closeups.kinds`` (``core.analytics.zones.Zone``, points in
    fractions of the picture) at ``closeups.zoom``; at most ``closeups.views``; none for an unknown input."""
    if min(input_size) <= 0:
        return []
    boxes = []
    for zone in zones:
        if zone.kind.value not in closeups.kinds:
            continue
        xs = [p[0] * width for p in zone.points]
        ys = [p[1] * height for p in zone.points]
        boxes.append((max(min(xs), 0.0), max(min(ys) - HEAD_ROOM * height, 0.0), min(max(xs), width), min(max(ys), height)))
    if not boxes or min(width, height) < MIN_SIDE:
        return []
    side = max(min(input_size) / closeups.zoom, MIN_SIDE)
    while True:
        side = min(side, width, height)
        squares = [sq for box in boxes for sq in _cover(box, side, width, height)]
        squares = list(dict.fromkeys(squares))  # two zones may ask for the same square
        if len(squares) <= closeups.views or side >= min(width, height):
            return squares[: closeups.views]
        side *= 1.25  # too many: less zoom


def _cover(box: tuple[float, float, float, float], side: float, width: int, height: int) -> list[Square]:
    x1, y1, x2, y2 = box
    step = side * (1 - OVERLAP)
    cols = max(1, math.ceil((x2 - x1 - side) / step) + 1) if x2 - x1 > side else 1
    rows = max(1, math.ceil((y2 - y1 - side) / step) + 1) if y2 - y1 > side else 1
    s = int(side)
    out = []
    for j in range(rows):
        for i in range(cols):
            # spread evenly from the box's first edge to its last; a box smaller than a square is centred in it
            cx = (x1 + x2) / 2 if cols == 1 else x1 + side / 2 + i * (x2 - x1 - side) / (cols - 1)
            cy = (y1 + y2) / 2 if rows == 1 else y1 + side / 2 + j * (y2 - y1 - side) / (rows - 1)
            x = int(min(max(cx - side / 2, 0), width - s))
            y = int(min(max(cy - side / 2, 0), height - s))
            out.append(Square(x, y, s))
    return out


def crops(image: np.ndarray, squares: Sequence[Square]) -> list[np.ndarray]:
    return [np.ascontiguousarray(image[s.y : s.y + s.side, s.x : s.x + s.side]) for s in squares]


def merge(
    whole: list[Detection], squares: Sequence[Square], found: Sequence[Sequence[Detection]], width: int, height: int,
    labels: frozenset[str],
) -> list[Detection]:
    """The whole frame's detections with what the squares found of ``labels``, in frame pixels, one box an object."""
    extra = []
    for sq, dets in zip(squares, found):
        inner = (sq.x > 0, sq.y > 0, sq.x + sq.side < width, sq.y + sq.side < height)  # edges inside the picture
        for d in dets:
            if labels and d.label not in labels:
                continue
            x1, y1, x2, y2 = d.box
            cut = (x1 <= 1 and inner[0]) or (y1 <= 1 and inner[1]) or (x2 >= sq.side - 1 and inner[2]) or (
                y2 >= sq.side - 1 and inner[3])
            if not cut:
                extra.append(Detection(d.label, d.score, x1 + sq.x, y1 + sq.y, x2 + sq.x, y2 + sq.y))
    if not extra:
        return list(whole)
    every = sorted([*whole, *extra], key=lambda d: -d.score)
    boxes = boxes_array([d.box for d in every])
    overlap = iou_matrix(boxes, boxes)
    kept: list[int] = []
    for i, d in enumerate(every):
        if all(every[k].label != d.label or overlap[i, k] < MERGE_IOU for k in kept):
            kept.append(i)
    return [every[i] for i in kept]


def squares(detector: Any, zones: Sequence[Any], width: int, height: int, closeups: CloseUps) -> list[Square]:
    """:func:`plan` for the detector's input size; none while it is not known (the model not loaded yet)."""
    if not (closeups.kinds and zones):
        return []
    return plan(zones, width, height, tuple(detector.info().input_size), closeups)


async def detect(detector: Any, image: np.ndarray, zones: Sequence[Any], closeups: CloseUps) -> list[Detection]:
    """``detector.detect`` on the frame (H x W x 3 RGB) and, in the same call, its close-ups of ``zones``."""
    height, width = image.shape[:2]
    whole = None
    if closeups.kinds and zones and min(detector.info().input_size) <= 0:
        (whole,) = await detector.detect([image])  # the model loads with its first call: then its input is known
    cut = squares(detector, zones, width, height, closeups)
    if whole is None:
        found = await detector.detect([image, *crops(image, cut)])
        whole, found = found[0], found[1:]
    else:
        found = await detector.detect(crops(image, cut)) if cut else []
    return merge(whole, cut, found, width, height, closeups.labels)
