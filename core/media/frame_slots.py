"""Pictures from the frame worker process to the server, through shared memory: two slots per camera.

The worker (:mod:`core.media.frame_worker`) writes each due picture into the
slot its sequence number picks (``seq % 2``) and then tells the server, in a
small message, which slot and which ``seq``. Newest wins: the worker never
waits for the server. Each slot starts with two 8-byte counters, the ``seq``
being written and the ``seq`` written last (a seqlock): the server copies the
picture out and keeps it only if both still say the message's ``seq``; a slot
the worker overwrote meanwhile (the server was two pictures behind) is a lost
picture, counted as a dropped analytics frame.

A camera's segment is sized for its resolution; a new resolution gets a new
segment (a new name in the messages) and the old one is unlinked.
"""

from __future__ import annotations

from multiprocessing import resource_tracker, shared_memory

import numpy as np

HEAD = 16  # bytes before each slot's picture: seq being written, seq written last (uint64 each)
SLOTS = 2


def attach(name: str) -> shared_memory.SharedMemory:
    """A segment another process created, opened without claiming it: Python 3.11 registers an attached
    segment with its resource tracker too, and would unlink it at this process's exit."""
    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def discard(shm: shared_memory.SharedMemory) -> None:
    """Close and unlink a segment this process created (one already unlinked is fine)."""
    shm.close()
    try:
        shm.unlink()
    except FileNotFoundError:
        pass


def segment_size(width: int, height: int) -> int:
    return SLOTS * (HEAD + width * height * 3)


def _slot_arrays(buf: memoryview, width: int, height: int, slot: int) -> tuple[np.ndarray, np.ndarray]:
    size = width * height * 3
    base = slot * (HEAD + size)
    head = np.frombuffer(buf, dtype=np.uint64, count=2, offset=base)
    image = np.frombuffer(buf, dtype=np.uint8, count=size, offset=base + HEAD).reshape(height, width, 3)
    return head, image


class SlotWriter:
    """The worker's side: one camera's segment, created for its current resolution."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.shm: shared_memory.SharedMemory | None = None
        self.size: tuple[int, int] | None = None
        self._count = 0

    def write(self, image: np.ndarray, seq: int) -> tuple[str, int]:
        """Copy ``image`` (HxWx3 uint8) into slot ``seq % 2``; returns (segment name, slot)."""
        height, width = image.shape[:2]
        if self.shm is None or self.size != (width, height):
            self.close()
            self._count += 1
            self.shm = shared_memory.SharedMemory(
                name=f"{self.prefix}-{self._count}", create=True, size=segment_size(width, height)
            )
            self.size = (width, height)
        slot = seq % SLOTS
        head, target = _slot_arrays(self.shm.buf, width, height, slot)
        head[0] = seq  # being written: a reader that sees head[0] != head[1] afterwards drops its copy
        np.copyto(target, image)
        head[1] = seq
        del head, target  # no views left on the buffer, or close() cannot release it
        return self.shm.name, slot

    def close(self) -> None:
        if self.shm is not None:
            discard(self.shm)
            self.shm = None


class SlotReader:
    """The server's side: copies pictures out of the segments the worker names."""

    def __init__(self) -> None:
        self._segments: dict[str, shared_memory.SharedMemory] = {}

    def read(self, name: str, width: int, height: int, slot: int, seq: int) -> np.ndarray | None:
        """A private copy of the picture ``seq``, or ``None`` if the worker overwrote it meanwhile."""
        shm = self._segments.get(name)
        if shm is None:
            shm = attach(name)  # the worker owns it
            self._segments[name] = shm
        if shm.size < segment_size(width, height):
            return None
        head, image = _slot_arrays(shm.buf, width, height, slot)
        if head[1] != seq or head[0] != seq:
            return None
        copy = image.copy()  # numpy copies without the GIL
        ok = head[0] == seq
        del head, image
        if not ok:
            return None
        copy.flags.writeable = False
        return copy

    def forget(self, name: str) -> None:
        shm = self._segments.pop(name, None)
        if shm is not None:
            shm.close()

    def names(self) -> list[str]:
        return list(self._segments)

    def close(self) -> None:
        for name in list(self._segments):
            self.forget(name)
