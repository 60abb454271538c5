"""The ``vision_onnx`` detector object handed to the core: a model behind a batcher."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from core.analytics.detector import Detection, DetectorInfo
from core.media.frame_decode import lower_thread_priority
from plugins.vision_onnx.batcher import Batcher
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.detector_process import DetectorProcess
from plugins.vision_onnx.model import ModelError, OnnxModel

log = logging.getLogger("bconnect.plugin.vision_onnx")
T = TypeVar("T")


def _at_analytics_priority(build: Callable[[], T], name: str) -> T:
    """``build()`` in a thread of analytics priority: threads it starts (ONNX Runtime's intra-op pool) inherit it."""
    out: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        lower_thread_priority()
        try:
            out.append(build())
        except BaseException as exc:  # handed to the caller
            failed.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return out[0]


class OnnxDetector:
    """Implements :class:`core.analytics.detector.Detector`.

    The model loads on :meth:`start` (a thread; the plugin calls it at start-up)
    or on the first :meth:`detect`, in the server (``isolation = "thread"``) or
    in a detector process of its own (``"process"``, :mod:`plugins.vision_onnx.detector_process`);
    the batcher is the same in both. A model that cannot load leaves ``error``
    set to its one-line reason and every ``detect`` raises :class:`ModelError`.
    """

    def __init__(self, config: Config, model_path: Path, name: str = "vision_onnx") -> None:
        self.name = name
        self.config = config
        self.model_path = model_path
        self.model: OnnxModel | DetectorProcess | None = None
        self.process: DetectorProcess | None = None  # isolation = "process"
        self.batcher: Batcher | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load the model and start the batcher (blocking: call it in a thread)."""
        with self._lock:
            if self.model is not None or self.error is not None:
                return
            try:
                if self.config.isolation == "process":
                    self.process = DetectorProcess(self.config, self.model_path, self.name)
                    self.process.start()
                    self.model = self.process
                else:
                    self.model = _at_analytics_priority(lambda: OnnxModel(self.config, self.model_path), f"{self.name}-load")
            except ModelError as exc:
                self.error = str(exc)
                log.error("detector not available: %s", self.error)
                return
            if self.model.fallback_reason:
                log.warning("%s", self.model.fallback_reason)
            c = self.config
            self.batcher = Batcher(self.model.infer, c.batch_size, c.batch_wait_ms / 1000, c.queue_size, self.name)
            info = self.model.info()
            log.info("detector %s on %s, input %sx%s", info.model, info.provider, *info.input_size)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.process is not None:
            self.process.close()
        if isinstance(self.model, OnnxModel):
            self.model.close()

    async def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        if self.batcher is None:
            await asyncio.to_thread(self.start)
        if self.batcher is None:
            raise ModelError(self.error or "detector not started")
        for f in frames:  # a bad frame fails its own caller, not the batch it would join
            if not (isinstance(f, np.ndarray) and f.ndim == 3 and f.shape[2] == 3 and f.dtype == np.uint8 and f.size):
                raise ValueError(f"a frame must be an H x W x 3 uint8 array, got {getattr(f, 'shape', type(f).__name__)}")
        futures = [self.batcher.submit(f) for f in frames]
        return list(await asyncio.gather(*futures))

    def info(self) -> DetectorInfo:
        if self.model is not None:
            return self.model.info()
        return DetectorInfo(self.model_path.name, "none", (0, 0), (), self.error)

    def health(self) -> dict:
        info = self.info()
        out: dict = {
            "status": "down" if self.error else "ok",
            "model": info.model,
            "provider": info.provider,
            "input_size": list(info.input_size),
            "tiles": self.config.tiles if isinstance(self.config.tiles, str) else list(self.config.tiles),
            "tile_join": self.config.tile_join,
            "isolation": self.config.isolation,
        }
        if self.process is not None:
            out["worker"] = self.process.describe()  # pid, state, restarts, last_exit
            if self.process.state == "restarting" and not self.error:  # frames are dropped meanwhile
                out["status"] = "degraded"
                out["reason"] = f"detector process restarting after it {self.process.last_exit}"
        if self.error:
            out["reason"] = self.error
        if info.fallback_reason and not self.error:
            out["fallback"] = info.fallback_reason  # CPU inference works: not a degradation
        if self.batcher is not None:
            s = self.batcher.stats
            out.update(
                frames=s.frames, batches=s.batches, dropped=s.dropped, failed=s.failed,
                mean_batch=round(s.frames / s.batches, 2) if s.batches else 0,
                ms_per_frame=round(1000 * s.infer_s / s.frames, 1) if s.frames else None,
            )
        return out
