"""Batching frames of many cameras into one inference, in a thread of its own.

Callers on the event loop submit frames and await futures. One worker thread
takes the oldest frame, gathers more for up to ``wait_s`` or until
``max_batch``, runs the model and resolves the futures on their loops. The
queue is bounded: when it is full the oldest frame is dropped (its caller gets
:class:`FramesDropped`) and counted, so a slow model sheds stale frames instead
of growing a backlog.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.analytics.detector import Detection, FramesDropped
from core.media.frame_decode import lower_thread_priority

Infer = Callable[[list[np.ndarray]], list[list[Detection]]]


@dataclass
class BatchStats:
    frames: int = 0
    batches: int = 0
    dropped: int = 0
    failed: int = 0
    infer_s: float = 0.0


class Batcher:
    def __init__(self, infer: Infer, max_batch: int, wait_s: float, queue_size: int, name: str = "detector") -> None:
        self._infer = infer
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: collections.deque[tuple[np.ndarray, asyncio.Future]] = collections.deque()
        self._size = queue_size
        self._cond = threading.Condition()
        self._stop = False
        self.stats = BatchStats()
        self._thread = threading.Thread(target=self._work, name=f"{name}-batcher", daemon=True)
        self._thread.start()

    def submit(self, frame: np.ndarray) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        with self._cond:
            if self._stop:
                raise RuntimeError("detector stopped")
            if len(self._queue) >= self._size:
                _, old = self._queue.popleft()
                self.stats.dropped += 1
                _resolve(old, exc=FramesDropped("detector queue full: dropped the oldest frame"))
            self._queue.append((frame, fut))
            self._cond.notify()
        return fut

    def close(self) -> None:
        with self._cond:
            self._stop = True
            pending = list(self._queue)
            self._queue.clear()
            self._cond.notify()
        for _, fut in pending:
            _resolve(fut, exc=RuntimeError("detector stopped"))
        self._thread.join(timeout=10)

    def _take(self) -> list[tuple[np.ndarray, asyncio.Future]] | None:
        with self._cond:
            while not self._queue and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            deadline = time.monotonic() + self.wait_s
            while len(self._queue) < self.max_batch and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            n = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _work(self) -> None:
        lower_thread_priority()  # inference waits for live view, never the other way round
        while (batch := self._take()) is not None:
            if not batch:
                continue
            t0 = time.perf_counter()
            try:
                results = self._infer([f for f, _ in batch])
            except Exception as exc:  # the callers get the reason; the thread goes on
                self.stats.failed += len(batch)
                for _, fut in batch:
                    _resolve(fut, exc=exc)
                continue
            self.stats.infer_s += time.perf_counter() - t0
            self.stats.frames += len(batch)
            self.stats.batches += 1
            for (_, fut), dets in zip(batch, results):
                _resolve(fut, value=dets)


def _resolve(fut: asyncio.Future, value=None, exc: BaseException | None = None) -> None:
    def done() -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    try:
        fut.get_loop().call_soon_threadsafe(done)
    except RuntimeError:  # the caller's loop has closed: nobody is waiting
        pass
