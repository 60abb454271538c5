"""Tiling: the model also looks at overlapping parts of a large frame, then the boxes are merged.

A 300x300 model sees a 1280x720 frame shrunk 2.4 times (and 4.3 times across):
a person 45 px tall becomes 19 px, below what SSD-MobileNet finds reliably. Running the same model
on a grid of overlapping tiles (and on the whole frame, for objects larger than
a tile) shrinks each tile far less. Every view of every frame goes into the
same batch, so tiling multiplies the inference work by the number of views
(7 for a 3 x 2 grid with the whole frame), not the number of calls.

Merging: one NMS over every view's boxes, in frame pixels, keeps the best score
per object. Dropping the boxes cut by a tile's inner edge (as some tilers do)
was measured and not kept: on the simulator it lowered vehicle recall (0.25 to
0.20 by night) without raising precision.
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
    tw = min(fw, math.ceil(fw / (cols - (cols - 1) * overlap)))
    th = min(fh, math.ceil(fh / (rows - (rows - 1) * overlap)))
    xs = [round(i * (fw - tw) / (cols - 1)) if cols > 1 else 0 for i in range(cols)]
    ys = [round(j * (fh - th) / (rows - 1)) if rows > 1 else 0 for j in range(rows)]
    views += [View(x, y, tw, th, False) for y in ys for x in xs]
    return views


def crop(frame: np.ndarray, view: View) -> np.ndarray:
    return frame if view.whole else frame[view.y : view.y + view.height, view.x : view.x + view.width]


def merge(
    views: list[View], found: list[list[Detection]], iou: float, limit: int, agnostic: bool
) -> list[Detection]:
    """Each view's detections (in the view's pixels) -> the frame's, NMS across views."""
    if len(views) == 1:
        return found[0]
    boxes, scores, labels = [], [], []
    for view, dets in zip(views, found):
        for d in dets:
            boxes.append((d.x1 + view.x, d.y1 + view.y, d.x2 + view.x, d.y2 + view.y))
            scores.append(d.score)
            labels.append(d.label)
    if not boxes:
        return []
    names = sorted(set(labels))
    classes = np.array([names.index(label) for label in labels], np.int64)
    kept_boxes, kept_scores, kept_classes = nms(
        np.array(boxes, np.float32), np.array(scores, np.float32), classes, iou, limit, agnostic
    )
    return [
        Detection(names[int(c)], float(s), *(float(v) for v in b))
        for b, s, c in zip(kept_boxes, kept_scores, kept_classes)
    ]

