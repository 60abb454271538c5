"""Boxes that show only part of an object: another box lies over them, so the hidden edge is guessed.

The tracker corrects its filter with such a box only after widening it back to
the size it predicted (:func:`completed`), so that a car half hidden by a bus
does not seem to shrink and move.
"""

from __future__ import annotations

import numpy as np

from core.analytics.assignment import boxes_array, iou_matrix
from core.analytics.track import DetectionLike

PARTIAL = 0.8  # a box this much narrower or shorter than predicted, with another box over it, is a partial view
COVER_MARGIN = 0.1  # boxes jitter: another box this close (fraction of its size) counts as touching


def covered(boxes: np.ndarray, own: list[DetectionLike], dets: list[DetectionLike]) -> list[bool]:
    """For each box, whether another detection of the frame overlaps or touches it (it may hide a part)."""
    if len(dets) < 2:
        return [False] * len(boxes)
    others = grown(boxes_array([d.box for d in dets]), COVER_MARGIN)
    overlaps = iou_matrix(boxes, others) > 0
    index = {id(d): j for j, d in enumerate(dets)}
    for k, det in enumerate(own):
        overlaps[k, index[id(det)]] = False
    return overlaps.any(axis=1).tolist()


def completed(box: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``box`` widened (or heightened) to the predicted size along each axis where it fell short, kept at
    the edge that agrees with the prediction: the hidden edge is the one that moved."""
    out = box.copy()
    for lo, hi in ((0, 2), (1, 3)):
        size = predicted[hi] - predicted[lo]
        if box[hi] - box[lo] < PARTIAL * size:
            if abs(box[lo] - predicted[lo]) <= abs(box[hi] - predicted[hi]):
                out[hi] = box[lo] + size
            else:
                out[lo] = box[hi] - size
    return out


def grown(boxes: np.ndarray, fraction: float) -> np.ndarray:
    w = (boxes[:, 2] - boxes[:, 0]) * fraction
    h = (boxes[:, 3] - boxes[:, 1]) * fraction
    return boxes + np.stack([-w, -h, w, h], axis=1)
