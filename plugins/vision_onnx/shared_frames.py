"""A batch's frames from the server to the detector process, through one shared-memory segment.

The server owns the segment: it writes a batch's frames one after the other
and tells the worker, in a small message, where each lies (offset, height,
width). One batch is in flight at a time (the batcher waits for its answer),
so the worker reads while nobody writes: no seqlock. A batch that does not fit
gets a larger segment under a new name; the old one is unlinked at once, and
the last on close, so nothing is left in ``/dev/shm`` (a server killed
outright leaves it to Python's resource tracker, which unlinks what the server
created).
"""

from __future__ import annotations

import itertools
import os
from multiprocessing import shared_memory

import numpy as np

from core.media.frame_slots import attach, discard

_WRITERS = itertools.count(1)
GRAIN = 1 << 20  # segments grow in whole MiB: a camera changing size by a few rows keeps its segment

Layout = list[tuple[int, int, int]]  # per frame: offset, height, width (H x W x 3 uint8)


class FrameWriter:
    """The server's side: the segment, (re)created for the largest batch so far."""

    def __init__(self, prefix: str = "bcd") -> None:
        self.prefix = f"{prefix}{os.getpid()}-{next(_WRITERS)}"  # several detectors in one process: their own names
        self.shm: shared_memory.SharedMemory | None = None
        self._count = 0

    def put(self, frames: list[np.ndarray]) -> tuple[str, Layout]:
        """Copy ``frames`` into the segment; returns its name and where each frame lies."""
        layout: Layout = []
        at = 0
        for f in frames:
            layout.append((at, f.shape[0], f.shape[1]))
            at += f.shape[0] * f.shape[1] * 3
        if self.shm is None or self.shm.size < at:
            self.close()
            self._count += 1
            size = max(GRAIN, -(-at // GRAIN) * GRAIN)
            self.shm = shared_memory.SharedMemory(name=f"{self.prefix}-{self._count}", create=True, size=size)
        for f, (offset, h, w) in zip(frames, layout):
            np.copyto(np.ndarray((h, w, 3), np.uint8, self.shm.buf, offset), f)  # any strides: a BGR->RGB view too
        return self.shm.name, layout

    def close(self) -> None:
        if self.shm is not None:
            discard(self.shm)
            self.shm = None


class FrameReader:
    """The detector process's side: attaches to the segment the server names, copies the frames out."""

    def __init__(self) -> None:
        self.shm: shared_memory.SharedMemory | None = None

    def get(self, name: str, layout: Layout) -> list[np.ndarray]:
        if self.shm is None or self.shm.name.lstrip("/") != name.lstrip("/"):
            self.close()
            self.shm = attach(name)  # the server owns it
        buf = self.shm.buf
        # copies: no view may outlive the segment, which the server replaces when a batch outgrows it
        return [np.ndarray((h, w, 3), np.uint8, buf, offset).copy() for offset, h, w in layout]

    def close(self) -> None:
        if self.shm is not None:
            self.shm.close()
            self.shm = None
