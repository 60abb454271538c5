"""Tiling: the model also looks at overlapping parts of a large frame, then the boxes are merged.

A 300x300 model sees a 1280x720 frame shrunk 2.4 times (and 4.3 times across):
a person 45 px tall becomes 19 px, below what SSD-MobileNet finds reliably. Running the same model
on a grid of overlapping tiles (and on the whole frame, for objects larger than
a tile) shrinks each tile far less. Every view of every frame goes into the
same batch, so tiling multiplies the inference work by the number of views
(7 for a 3 x 2 grid with the whole frame), not the number of calls.

Merging: one NMS over every view's boxes, in frame pixels, keeps the best score
per object. Before it, a box cut by a tile's inner edge is grown into the boxes
of other views that carry the object on past that edge (``join_cut``, when
``tile_join`` is on): a car across a seam is otherwise kept as its better-scored
half. Dropping the cut boxes instead (as some tilers do) was measured and not
kept: on the simulator it lowered vehicle recall (0.25 to 0.20 by night) without
raising precision; joining them raised vehicle precision (0.88 to 0.94 by day
with 4 x 2 tiles, 0.90 to 0.93 with 3 x 2) at the same recall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.analytics.detector import Detection
from plugins.vision_onnx.layouts import nms


@dataclass(frozen=True)
class View:
    """One part of a frame run through the model: its top-left corner and size in frame pixels."""

    x: int
    y: int
    width: int
    height: int
    whole: bool  # the whole frame, not a tile


MAX_TILES = 16  # "auto" never plans more tiles a frame than this (4 x 4)


def tile_size(frame_size: tuple[int, int], cols: int, rows: int, overlap: float) -> tuple[int, int]:
    """A tile's width and height in frame pixels, for a grid whose neighbours share ``overlap``."""
    fw, fh = frame_size
    return (min(fw, math.ceil(fw / (cols - (cols - 1) * overlap))), min(fh, math.ceil(fh / (rows - (rows - 1) * overlap))))


def grid(tiles, frame_size: tuple[int, int], input_size: tuple[int, int]) -> tuple[int, int]:
    """(columns, rows) for a frame: ``"off"`` is 1 x 1; ``"auto"`` tiles when the frame's shorter
    side is at least twice the model's, each axis on its own (ceil(ratio / 2) tiles along it, so a
    tile is shrunk about 2x at most either way and keeps nearly its shape: 3 x 2 for 720p on a
    300x300 model, where k x k tiles squashed people to a third of their width), at most
    ``MAX_TILES``; a pair is taken as given."""
    if tiles == "off":
        return (1, 1)
    if tiles == "auto":
        (fw, fh), (iw, ih) = frame_size, input_size
        if min(fw / iw, fh / ih) < 2:
            return (1, 1)
        cols, rows = math.ceil(fw / iw / 2), math.ceil(fh / ih / 2)
        while cols * rows > MAX_TILES:
            if cols >= rows:
                cols -= 1
            else:
                rows -= 1
        return (cols, rows)
    return (int(tiles[0]), int(tiles[1]))


def plan(frame_size: tuple[int, int], cols: int, rows: int, overlap: float, whole: bool) -> list[View]:
    """The views of one frame: the whole frame (when ``whole`` or there is only one tile), then the
    tiles, row by row; neighbouring tiles share ``overlap`` of a tile's width or height."""
    fw, fh = frame_size
    views = [View(0, 0, fw, fh, True)] if whole or cols * rows == 1 else []
    if cols * rows == 1:
        return views
    tw, th = tile_size(frame_size, cols, rows, overlap)
    xs = [round(i * (fw - tw) / (cols - 1)) if cols > 1 else 0 for i in range(cols)]
    ys = [round(j * (fh - th) / (rows - 1)) if rows > 1 else 0 for j in range(rows)]
    views += [View(x, y, tw, th, False) for y in ys for x in xs]
    return views


def crop(frame: np.ndarray, view: View) -> np.ndarray:
    return frame if view.whole else frame[view.y : view.y + view.height, view.x : view.x + view.width]


EDGE_PX = 2  # a box this near a tile's inner edge is cut by it: the model saw part of the object
JOIN_IOS = 0.6  # a cut box and a box of another view covering this share of the smaller are one object
JOIN_SPAN = 0.7  # ... and their spans along the cut edge agree this well (1-D IoU)
JOIN_SCORE = 0.5  # ... and the other box scores at least this share of the cut box's score


def cut_sides(view: View, d: Detection, frame_size: tuple[int, int]) -> tuple[bool, bool, bool, bool]:
    """Which of the box's sides (left, top, right, bottom) lie on an inner edge of its tile."""
    if view.whole:
        return (False, False, False, False)
    fw, fh = frame_size
    return (
        view.x > 0 and d.x1 <= EDGE_PX,
        view.y > 0 and d.y1 <= EDGE_PX,
        view.x + view.width < fw and d.x2 >= view.width - EDGE_PX,
        view.y + view.height < fh and d.y2 >= view.height - EDGE_PX,
    )


def _span_iou(a0: float, a1: float, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    return inter / np.maximum(np.maximum(a1, b1) - np.minimum(a0, b0), 1e-6)


def join_cut(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, cuts: np.ndarray, views: np.ndarray) -> np.ndarray:
    """Boxes cut by a tile's edge grown into the boxes of other views that carry the object on past that edge.

    A car across the seam of two tiles is two half boxes, each a better score than the whole frame's
    box of it; NMS alone keeps a half, whose IoU with the car is under 0.5. Here a cut box takes the
    union with the boxes of the same class from other views that cover ``JOIN_IOS`` of the smaller,
    reach on past the cut side (so a neighbour beside it is never joined), run along the cut edge as
    the cut box does (``JOIN_SPAN``: a loose box over a whole queue is not the rest of one car) and
    are not much less sure (``JOIN_SCORE``: a faint box lends no extent to a sure one). Returns the
    new boxes."""
    out = boxes.copy()
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in np.flatnonzero(cuts.any(axis=1)):
        b = boxes[i]
        iw = np.minimum(b[2], boxes[:, 2]) - np.maximum(b[0], boxes[:, 0])
        ih = np.minimum(b[3], boxes[:, 3]) - np.maximum(b[1], boxes[:, 1])
        same = (views != views[i]) & (classes == classes[i]) & (iw > 0) & (ih > 0) & (scores >= JOIN_SCORE * scores[i])
        same &= np.clip(iw, 0, None) * np.clip(ih, 0, None) >= JOIN_IOS * np.minimum(area[i], area)
        left, top, right, bottom = cuts[i]
        rows_agree = _span_iou(b[1], b[3], boxes[:, 1], boxes[:, 3]) >= JOIN_SPAN  # for a cut on the left or right
        cols_agree = _span_iou(b[0], b[2], boxes[:, 0], boxes[:, 2]) >= JOIN_SPAN  # for a cut at the top or bottom
        # reaches on past a side the tile cut, and runs along it (a box cut at a tile's corner is cut along
        # both axes, so neither span can be asked to agree)
        past = np.zeros(len(boxes), bool)
        past |= left & (boxes[:, 0] < b[0] - EDGE_PX) & (rows_agree | top | bottom)
        past |= right & (boxes[:, 2] > b[2] + EDGE_PX) & (rows_agree | top | bottom)
        past |= top & (boxes[:, 1] < b[1] - EDGE_PX) & (cols_agree | left | right)
        past |= bottom & (boxes[:, 3] > b[3] + EDGE_PX) & (cols_agree | left | right)
        grow = boxes[same & past]
        if len(grow):
            out[i] = (min(b[0], grow[:, 0].min()), min(b[1], grow[:, 1].min()), max(b[2], grow[:, 2].max()), max(b[3], grow[:, 3].max()))
    return out


def merge(
    views: list[View], found: list[list[Detection]], iou: float, limit: int, agnostic: bool, join: bool = False
) -> list[Detection]:
    """Each view's detections (in the view's pixels) -> the frame's: cut boxes joined (``join_cut``) when
    ``join``, then NMS across views."""
    if len(views) == 1:
        return found[0]
    frame_size = (max(v.x + v.width for v in views), max(v.y + v.height for v in views)) if join else (0, 0)
    boxes, scores, labels, cuts, where = [], [], [], [], []
    for k, (view, dets) in enumerate(zip(views, found)):
        for d in dets:
            boxes.append((d.x1 + view.x, d.y1 + view.y, d.x2 + view.x, d.y2 + view.y))
            scores.append(d.score)
            labels.append(d.label)
            if join:
                cuts.append(cut_sides(view, d, frame_size))
                where.append(k)
    if not boxes:
        return []
    names = sorted(set(labels))
    classes = np.array([names.index(label) for label in labels], np.int64)
    box_array, score_array = np.array(boxes, np.float32), np.array(scores, np.float32)
    if join:
        box_array = join_cut(box_array, score_array, classes, np.array(cuts, bool), np.array(where))
    kept_boxes, kept_scores, kept_classes = nms(box_array, score_array, classes, iou, limit, agnostic)
    return [
        Detection(names[int(c)], float(s), *(float(v) for v in b))
        for b, s, c in zip(kept_boxes, kept_scores, kept_classes)
    ]
