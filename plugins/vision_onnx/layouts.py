"""Reading the output tensors of the common detector exports, and NMS in numpy.

Each decoder takes the session's outputs for a batch and returns, per image,
``(boxes, scores, classes)``: boxes x1, y1, x2, y2 in the model's input pixels,
before the letterbox is undone. A tensor of the wrong shape raises
:class:`LayoutMismatch` with a line saying what the layout expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (K, 4), scores (K,), classes (K,)


class LayoutMismatch(ValueError):
    pass


@dataclass(frozen=True)
class OutputSpec:
    """What a decoder needs besides the tensors."""

    input_size: tuple[int, int]  # (width, height)
    score_threshold: float
    iou_threshold: float
    max_detections: int
    box_order: str = "xyxy"  # SSD only
    background_class: bool = False  # SSD only
    agnostic_nms: bool = False  # one NMS over all classes, as TFLite's SSD post-processing does


def _cxcywh(b: np.ndarray) -> np.ndarray:
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def _best_class(boxes, cls_scores, obj, spec: OutputSpec) -> Candidates:
    cls = cls_scores.argmax(axis=1)
    score = cls_scores[np.arange(len(cls)), cls] * (obj if obj is not None else 1.0)
    keep = score >= spec.score_threshold
    return nms(boxes[keep], score[keep], cls[keep], spec.iou_threshold, spec.max_detections, spec.agnostic_nms)


def _one_output(outputs: list[np.ndarray], name: str, expect: str) -> np.ndarray:
    if len(outputs) != 1 or outputs[0].ndim != 3:
        shapes = ", ".join(str(tuple(o.shape)) for o in outputs)
        raise LayoutMismatch(f"outputs {shapes} do not match layout {name!r} (expected one output {expect})")
    return outputs[0]


def decode_yolov5(outputs: list[np.ndarray], spec: OutputSpec) -> list[Candidates]:
    """(N, K, 5 + C): cx, cy, w, h, objectness, class scores, in input pixels."""
    out = _one_output(outputs, "yolov5", "N x K x (5 + classes)")
    if out.shape[2] < 6:
        raise LayoutMismatch(f"output {tuple(out.shape)} does not match layout 'yolov5' (last axis 5 + classes)")
    return [_best_class(_cxcywh(o[:, :4]), o[:, 5:], o[:, 4], spec) for o in out]


def decode_yolov8(outputs: list[np.ndarray], spec: OutputSpec) -> list[Candidates]:
    """(N, 4 + C, K), transposed, no objectness: YOLOv8, YOLO11."""
    out = _one_output(outputs, "yolov8", "N x (4 + classes) x K")
    if out.shape[1] < 5 or (out.shape[1] > out.shape[2] >= 6):  # the latter: an untransposed (N, K, 5 + C)
        raise LayoutMismatch(f"output {tuple(out.shape)} does not match layout 'yolov8' (N x (4 + classes) x K)")
    return [_best_class(_cxcywh(o.T[:, :4]), o.T[:, 4:], None, spec) for o in out]


def decode_yolox(outputs: list[np.ndarray], spec: OutputSpec, strides=(8, 16, 32)) -> list[Candidates]:
    """(N, K, 5 + C) as YOLOX exports it: grid offsets and log sizes per stride, decoded here."""
    out = _one_output(outputs, "yolox", "N x K x (5 + classes)")
    w, h = spec.input_size
    grids, steps = [], []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        grids.append(np.stack([gx, gy], axis=-1).reshape(-1, 2))
        steps.append(np.full((grids[-1].shape[0], 1), s))
    grid, step = np.concatenate(grids).astype(np.float32), np.concatenate(steps).astype(np.float32)
    if out.shape[1] != grid.shape[0]:
        raise LayoutMismatch(
            f"output {tuple(out.shape)} does not match layout 'yolox' at input {w}x{h} ({grid.shape[0]} anchors expected)"
        )
    res = []
    for o in out:
        xy = (o[:, :2] + grid) * step
        wh = np.exp(o[:, 2:4]) * step
        res.append(_best_class(_cxcywh(np.concatenate([xy, wh], axis=1)), o[:, 5:], o[:, 4], spec))
    return res


def decode_ssd(outputs: list[np.ndarray], spec: OutputSpec, names: list[str] | None = None) -> list[Candidates]:
    """Boxes normalised to 0..1, either with a score per class (NMS here) or already suppressed.

    Two outputs: boxes (N, K, 4) and scores (N, K, C) (our default model). Three or four:
    boxes (N, K, 4), classes (N, K), scores (N, K) [, count (N,)], the TF Object Detection
    API's order; ``names`` (the output names) pick classes and scores out when they say so.
    """
    w, h = spec.input_size
    boxes_i = [i for i, o in enumerate(outputs) if o.ndim == 3 and o.shape[2] == 4]
    if not boxes_i:
        shapes = ", ".join(str(tuple(o.shape)) for o in outputs)
        raise LayoutMismatch(f"outputs {shapes} do not match layout 'ssd' (no N x K x 4 boxes output)")
    boxes = outputs[boxes_i[0]].astype(np.float32)
    if spec.box_order == "yxyx":
        boxes = boxes[..., [1, 0, 3, 2]]
    boxes = boxes * np.array([w, h, w, h], np.float32)
    rest = [(i, o) for i, o in enumerate(outputs) if i != boxes_i[0]]
    matrices = [o for _, o in rest if o.ndim == 3]
    if matrices:
        scores = matrices[0][..., 1:] if spec.background_class else matrices[0]
        return [_best_class(b, s, None, spec) for b, s in zip(boxes, scores)]
    flat = [(i, o) for i, o in rest if o.ndim == 2]
    if len(flat) < 2:
        raise LayoutMismatch("outputs do not match layout 'ssd' (need scores per class, or classes and scores)")
    named = {("class" if "class" in (names or [""] * len(outputs))[i].lower() else "score"): o for i, o in flat}
    classes, scores = (named["class"], named["score"]) if len(named) == 2 else (flat[0][1], flat[1][1])
    counts = [o for _, o in rest if o.ndim == 1]
    res = []
    for n in range(boxes.shape[0]):
        k = int(counts[0][n]) if counts else boxes.shape[1]
        s, c = scores[n, :k], classes[n, :k].astype(np.int64)
        keep = s >= spec.score_threshold
        res.append(nms(boxes[n, :k][keep], s[keep], c[keep], spec.iou_threshold, spec.max_detections, spec.agnostic_nms))
    return res


def nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, limit: int, agnostic: bool = False
) -> Candidates:
    """Greedy NMS per class (classes offset apart so one pass does all), best first, at most ``limit``."""
    if len(scores) == 0:
        return boxes.reshape(0, 4), scores, classes
    shifted = boxes if agnostic else boxes + (classes.astype(np.float32) * (boxes.max() + 1.0))[:, None]
    x1, y1, x2, y2 = shifted.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size and len(keep) < limit:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        ih = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = iw * ih
        order = rest[inter / (areas[i] + areas[rest] - inter + 1e-9) <= iou]
    idx = np.array(keep, np.int64)
    return boxes[idx], scores[idx], classes[idx]


DECODERS = {"yolov5": decode_yolov5, "yolov8": decode_yolov8, "yolox": decode_yolox}
