"""The hand-off from ingest threads to the event loop, in batches."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bconnect.ingest")


class LoopHandoff:
    """Calls from ingest threads, run on the event loop in batches.

    The first item posted schedules one drain; items posted before it runs
    join the same batch, so a busy loop wakes once for many packets.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int = 2000) -> None:
        self.loop = loop
        self.max_pending = max_pending
        self.batches = 0
        self.items = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[[Any], None], Any]] = []
        self._scheduled = False
        self.closed = False

    def post(self, func: Callable[[Any], None], arg: Any) -> bool:
        """Queue ``func(arg)`` for the loop; ``False`` if the loop is too far behind."""
        with self._lock:
            if self.closed or len(self._pending) >= self.max_pending:
                return False
            self._pending.append((func, arg))
            if self._scheduled:
                return True
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the app is stopping
            self.closed = True
            return False
        return True

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        self.batches += 1
        self.items += len(batch)
        for func, arg in batch:
            try:
                func(arg)
            except Exception:
                log.exception("hand-off target %r failed", func)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._pending = []
