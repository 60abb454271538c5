"""One ONNX detector model: loading on the best provider, pre-processing, decoding.

Everything here is synchronous and runs in the batcher's thread, never on the
event loop. Loading fails with :class:`ModelError`, one line naming the file.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import functools
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.analytics.detector import Detection, DetectorInfo
from plugins.vision_onnx import layouts, tiles
from plugins.vision_onnx.config import Config

PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
PAD = 114  # the grey the YOLO exports were trained to see in a letterbox
GPU_PROVIDERS = {PROVIDERS["tensorrt"], PROVIDERS["cuda"]}

log = logging.getLogger(__name__)


@functools.cache
def preload_gpu_libraries() -> str:
    """Load CUDA and cuDNN installed as pip wheels (``onnxruntime-gpu[cuda,cudnn]``), once a process.

    onnxruntime's CUDA provider finds those libraries only once ``onnxruntime.preload_dlls`` has
    loaded them (or ``import torch`` has); libraries on the system's search path need nothing.
    Where there are none (no GPU here) it reports what failed: that text is returned and logged
    at debug level, and the provider then falls back with its own reason.
    """
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)
    if preload is None or PROVIDERS["cuda"] not in ort.get_available_providers():
        return ""
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        try:
            preload()
        except Exception as exc:  # a broken install: the session's own fallback says the rest
            print(f"preload_dlls: {exc}")
    text = " ".join(said.getvalue().split())
    if text:
        log.debug("onnxruntime GPU libraries: %s", text[:500])
    return text


class ModelError(Exception):
    """The model file is missing, unreadable or not what the config says (one line)."""


@dataclass(frozen=True)
class Geometry:
    """How one frame was fitted into the model's input, to map boxes back."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int


class OnnxModel:
    def __init__(self, config: Config, path: Path) -> None:
        import onnxruntime as ort

        self.config = config
        self.path = path
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist (scripts/setup.sh builds the default one)")
        options = ort.SessionOptions()
        if config.threads:
            options.intra_op_num_threads = config.threads
        # idle pool threads sleep rather than spin: on a shared CPU a spinning worker takes a core from live view
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        wanted = [PROVIDERS[p] for p in config.providers]
        available = set(ort.get_available_providers())
        usable = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        if GPU_PROVIDERS & set(usable):
            preload_gpu_libraries()
        self.session = _session(ort, path, options, usable)
        gpu_copy = gpu_copy_of(path)
        if self.session.get_providers()[0] in GPU_PROVIDERS and gpu_copy.is_file():
            # made for the GPU: the default model's float graph, whose quantized one would run partly on the CPU
            self.session, self.path = _session(ort, gpu_copy, options, usable), gpu_copy
        self.provider = self.session.get_providers()[0]
        self.fallback_reason = None
        if self.provider != wanted[0]:
            why = "not in this onnxruntime build" if wanted[0] not in available else "did not load (no GPU, or its CUDA/TensorRT libraries are missing)"
            self.fallback_reason = f"{wanted[0]} {why}: using {self.provider}"
        # on a GPU the frames of a batch are fitted to the input in parallel: one thread's resizing would
        # bound the GPU's rate (bench/detector.py); on the CPU the model's own threads have the cores
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1), thread_name_prefix="vision-prepare")
            if self.provider in GPU_PROVIDERS and (os.cpu_count() or 1) > 1 else None
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        self._read_settings(meta)
        self._check_outputs()

    def _read_settings(self, meta: dict[str, str]) -> None:
        c = self.config
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise ModelError(f"model file {self.path}: input {inp.name} {shape} is not N x 3 x H x W with a fixed H and W")
        self.batch_fixed = shape[0] if isinstance(shape[0], int) else None
        self.input_size = (int(shape[3]), int(shape[2]))
        layout = c.layout or meta.get("layout")
        if layout not in ("yolov5", "yolov8", "yolox", "ssd"):
            raise ModelError(f"model file {self.path}: set layout (yolov5, yolov8, yolox or ssd); the model does not say")
        self.layout = layout
        self.resize = c.resize or meta.get("resize") or ("stretch" if layout == "ssd" else "letterbox")
        self.mean = c.mean if c.mean is not None else float(meta.get("input_mean", 0.0))
        self.std = c.std if c.std is not None else float(meta.get("input_std", 255.0))
        self.names = _names(c.classes, meta.get("names"))

        def flag(configured: bool | None, key: str) -> bool:
            return configured if configured is not None else meta.get(key, "false").lower() == "true"

        self.spec = layouts.OutputSpec(
            input_size=self.input_size,
            score_threshold=c.score_threshold,
            iou_threshold=c.iou_threshold or float(meta.get("nms_iou_threshold", 0.45)),
            max_detections=c.max_detections,
            box_order=c.box_order or meta.get("box_order", "xyxy"),
            background_class=flag(c.background_class, "background_class"),
            agnostic_nms=flag(c.agnostic_nms, "agnostic_nms"),
        )
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _check_outputs(self) -> None:
        """A dry run on a grey image: a model that does not fit its layout fails now, not per frame."""
        w, h = self.input_size
        try:
            self.infer([np.full((h, w, 3), PAD, np.uint8)])
        except layouts.LayoutMismatch as exc:
            raise ModelError(f"model file {self.path}: {exc}") from None
        except Exception as exc:
            raise ModelError(f"model file {self.path} failed a trial run: {' '.join(str(exc).split())[:300]}") from None

    def close(self) -> None:
        """Stop the GPU's prepare threads (after the last ``infer``); again is harmless."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def info(self) -> DetectorInfo:
        labels = tuple(self.names[i] for i in sorted(self.names)) if self.names else ()
        return DetectorInfo(self.path.name, self.provider, self.input_size, labels, self.fallback_reason)

    # --- the hot path --------------------------------------------------------

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, Geometry]:
        """HxWx3 uint8 RGB -> 3xhxw float32 scaled for the model, and how to map boxes back."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a frame must be H x W x 3 uint8, got {frame.shape} {frame.dtype}")
        fh, fw = frame.shape[:2]
        w, h = self.input_size
        img = Image.fromarray(frame)
        if self.resize == "stretch":
            arr = np.asarray(img.resize((w, h), Image.BILINEAR))
            geo = Geometry(w / fw, h / fh, 0.0, 0.0, fw, fh)
        else:
            s = min(w / fw, h / fh)
            nw, nh = max(1, round(fw * s)), max(1, round(fh * s))
            arr = np.full((h, w, 3), PAD, np.uint8)
            # YOLOX pads right and bottom; the Ultralytics exports centre the picture
            px, py = (0, 0) if self.layout == "yolox" else ((w - nw) // 2, (h - nh) // 2)
            arr[py : py + nh, px : px + nw] = np.asarray(img.resize((nw, nh), Image.BILINEAR))
            geo = Geometry(s, s, float(px), float(py), fw, fh)
        if self.config.channels == "bgr":
            arr = arr[..., ::-1]
        x = (arr.astype(np.float32) - self.mean) / self.std
        return x.transpose(2, 0, 1), geo

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: batch})

    def decode(self, outputs: list[np.ndarray]) -> list[layouts.Candidates]:
        if self.layout == "ssd":
            return layouts.decode_ssd(outputs, self.spec, self.output_names)
        return layouts.DECODERS[self.layout](outputs, self.spec)

    def to_detections(self, cand: layouts.Candidates, geo: Geometry) -> list[Detection]:
        boxes, scores, classes = cand
        keep_labels = set(self.config.labels)
        out = []
        for (x1, y1, x2, y2), score, cls in zip(boxes.tolist(), scores.tolist(), classes.tolist()):
            label = self.names.get(int(cls), str(int(cls)))
            if keep_labels and label not in keep_labels:
                continue
            x1, x2 = [min(max((v - geo.pad_x) / geo.scale_x, 0.0), geo.width) for v in (x1, x2)]
            y1, y2 = [min(max((v - geo.pad_y) / geo.scale_y, 0.0), geo.height) for v in (y1, y2)]
            out.append(Detection(label, float(score), x1, y1, x2, y2))
        return out

    def infer(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Frames of any sizes -> detections per frame, in the frames' pixels (one or more runs).

        Each frame is split into its views (:mod:`plugins.vision_onnx.tiles`: the whole frame,
        or the whole frame and tiles); all views of all frames share the runs.
        """
        c = self.config
        plans = []
        for f in frames:
            size = (f.shape[1], f.shape[0]) if getattr(f, "ndim", 0) == 3 else (0, 0)
            cols, rows = tiles.grid(c.tiles, size, self.input_size)
            plans.append(tiles.plan(size, cols, rows, c.tile_overlap, c.tile_whole_frame))
        views = [tiles.crop(f, v) for f, plan in zip(frames, plans) for v in plan]
        found = self.infer_views(views)
        result, at = [], 0
        for plan in plans:
            per_view, at = found[at : at + len(plan)], at + len(plan)
            result.append(tiles.merge(plan, per_view, c.tile_merge_iou, c.max_detections, self.spec.agnostic_nms, c.tile_join))
        return result

    def infer_views(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Pictures (whole frames or tiles) -> detections per picture, in its own pixels."""
        if self._pool is not None and len(frames) > 1:
            prepared = list(self._pool.map(self.prepare, frames))
        else:
            prepared = [self.prepare(f) for f in frames]
        step = self.batch_fixed or len(prepared)
        result: list[list[Detection]] = []
        for start in range(0, len(prepared), step):
            chunk = prepared[start : start + step]
            batch = np.stack([x for x, _ in chunk])
            if self.batch_fixed and len(chunk) < self.batch_fixed:  # a fixed-batch export: pad with copies
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.batch_fixed - len(chunk), axis=0)])
            cands = self.decode(self.run(batch))
            result.extend(self.to_detections(c, g) for c, (_, g) in zip(cands, chunk))
        return result

def gpu_copy_of(path: Path) -> Path:
    """The model's copy for a GPU, beside it: ``NAME.gpu.onnx`` for ``NAME.onnx`` (docs/detectors.md)."""
    return path.with_name(path.stem + ".gpu.onnx")


def _session(ort, path: Path, options, providers: list[str]):
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]
        raise ModelError(f"model file {path} is not a readable ONNX model: {first}") from None


def _names(configured: list[str] | dict[int, str] | None, meta: str | None) -> dict[int, str]:
    if isinstance(configured, list):
        return dict(enumerate(configured))
    if isinstance(configured, dict):
        return dict(configured)
    if meta:
        try:  # Ultralytics writes a Python dict literal; so does our converter
            parsed = ast.literal_eval(meta)
        except (ValueError, SyntaxError):
            return {}
        if isinstance(parsed, dict):
            return {int(k): str(v) for k, v in parsed.items()}
        if isinstance(parsed, list):
            return dict(enumerate(str(v) for v in parsed))
    return {}
