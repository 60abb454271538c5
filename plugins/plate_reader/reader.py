"""The plate reader: crops of one track in, one :class:`PlateRead` out, off the event loop.

Two entries: :meth:`PlateReader.read_track` takes plate crops;
:meth:`PlateReader.read_vehicles` takes the vehicle's pictures (what an analyzer
has: the box the detector drew) and first finds the plate in each
(:mod:`plugins.plate_reader.locate`).

OCR is CPU-heavy (about 0.1-0.2 s a crop on one core), so reads run on a small
thread pool, each worker with its own ONNX sessions. At most ``max_pending``
tracks wait or run at once; one more is refused at once (:class:`ReaderBusy`)
rather than queued, so a burst of violations cannot grow memory or latency
without bound. The caller keeps the track and may ask again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.analytics import plates as core_plates
from core.media.frame_decode import lower_thread_priority
from plugins.plate_reader.colour import classify
from plugins.plate_reader.config import Config
from plugins.plate_reader.locate import plate_in
from plugins.plate_reader.ocr import Ocr
from plugins.plate_reader.vote import PlateRead, frame_read, vote


class ReaderBusy(core_plates.ReaderBusy):
    """``max_pending`` tracks are already being read."""


class PlateReader:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rules = config.rules()
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
        self._ready = False
        self._lock = threading.Lock()
        self.stats = {"tracks": 0, "frames": 0, "ticket_ready": 0, "manual": 0, "busy": 0, "read_s": 0.0}

    def _ocr(self) -> Ocr:
        ocr = getattr(self._local, "ocr", None)
        if ocr is None:
            ocr = self._local.ocr = Ocr(threads=self.config.threads, use_cuda=self.config.use_cuda)
            self._ready = True
        return ocr

    def read_track_blocking(self, crops: list[np.ndarray], vehicle_class: str | None = None) -> PlateRead:
        """Read, vote, validate. ``crops``: the plate in up to ``max_frames`` frames of one track,
        each H x W x 3 uint8 RGB (the sharpest first when there are more). ``vehicle_class``: the
        detector's class (``car``, ``motorcycle``...), checked against the number's range."""
        started = time.perf_counter()
        crops = [np.repeat(c[..., None], 3, axis=2) if c.ndim == 2 else c for c in crops if c is not None]
        crops = [c for c in crops if c.ndim == 3 and min(c.shape[:2]) >= 2][: self.config.max_frames]
        ocr = self._ocr()
        reads = [
            frame_read(ocr.read(c, self.config.detect_text), self.rules, self.config.fixup_penalty, vehicle_class)
            for c in crops
        ]
        colours = Counter(classify(c).colour for c in crops)
        colour = colours.most_common(1)[0][0] if colours else "unknown"
        result = vote(reads, colour, self.rules, self.config.min_confidence, vehicle_class)
        with self._lock:
            self.stats["tracks"] += 1
            self.stats["frames"] += len(crops)
            self.stats["manual" if result.needs_manual_entry else "ticket_ready"] += 1
            self.stats["read_s"] += time.perf_counter() - started
        return result

    def read_vehicles_blocking(self, crops: list[np.ndarray], vehicle_class: str | None = None) -> PlateRead:
        """:meth:`read_track_blocking` on the plates found in pictures of the vehicle (H x W x 3 uint8
        RGB, the best first); a picture in which no plate is seen does not vote."""
        ocr = self._ocr()
        found = [plate_in(ocr.engine, c) for c in crops[: self.config.max_frames] if c is not None and c.ndim == 3]
        return self.read_track_blocking([p for p in found if p is not None], vehicle_class)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # reads wait for live view, like the rest of the analytics (their ONNX sessions run in these threads)
                self._pool = ThreadPoolExecutor(
                    self.config.workers, thread_name_prefix="plate-reader", initializer=lower_thread_priority
                )
            return self._pool

    async def read_track(self, crops: list[np.ndarray], vehicle_class: str | None = None) -> PlateRead:
        """:meth:`read_track_blocking` on a worker thread; :class:`ReaderBusy` when full."""
        return await self._run(self.read_track_blocking, crops, vehicle_class)

    async def read_vehicles(self, crops: list[np.ndarray], vehicle_class: str | None = None) -> PlateRead:
        """:meth:`read_vehicles_blocking` on a worker thread; :class:`ReaderBusy` when full."""
        return await self._run(self.read_vehicles_blocking, crops, vehicle_class)

    async def _run(self, fn, crops: list[np.ndarray], vehicle_class: str | None) -> PlateRead:
        with self._lock:
            if self._pending >= self.config.max_pending:
                self.stats["busy"] += 1
                raise ReaderBusy(f"{self._pending} plate reads pending (max_pending {self.config.max_pending})")
            self._pending += 1
        try:
            future = self._executor().submit(fn, crops, vehicle_class)
        except BaseException:
            self._done(None)
            raise
        # a read counts as pending until its thread is done, also when the caller stopped waiting
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    def warm(self) -> None:
        """Build one worker's sessions (about 2 s; blocking), so that the first read is not slow."""
        self._executor().submit(self._ocr).result()

    def warm_soon(self) -> None:
        """Start building a worker's sessions on the reader's own thread and return at once: reads queue
        behind it, and the app's start-up does not wait for it (seconds on a loaded machine)."""
        self._executor().submit(self._ocr)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def health(self) -> dict:
        """``ok`` once a worker's sessions are built (``degraded`` until then), and the counts."""
        with self._lock:
            s = {"status": "ok" if self._ready else "degraded", **self.stats}
            s["pending"] = self._pending
        s["ms_per_frame"] = round(1000 * s.pop("read_s") / s["frames"], 1) if s["frames"] else None
        return s
