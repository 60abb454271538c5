"""A bounded queue, newest wins, put from any thread and awaited on one event loop.

Frames for analytics travel from the loop that delivers them (the analytics
loop, :mod:`core.analytics.loop_thread`) to consumers that may await them on
another (an ``async`` analyzer on the server's loop). Full, a put pushes out
the oldest item and counts it as dropped, never blocks and never queues more:
a slow consumer loses frames, it does not make the producer wait.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from core.media.mux import SubscriptionClosed

T = TypeVar("T")


class Latest(Generic[T]):
    """At most ``maxsize`` items; ``put`` from any thread, ``get`` awaited on one loop at a time."""

    def __init__(self, maxsize: int = 1, on_drop: Callable[[int], None] | None = None, name: str = "latest") -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.name = name
        self.dropped = 0
        self.closed = False
        self._on_drop = on_drop
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: T) -> None:
        with self._lock:
            if self.closed:
                return
            dropped = len(self._items) >= self.maxsize
            if dropped:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if dropped and self._on_drop is not None:
            self._on_drop(1)
        if waiter is not None:
            wake(waiter)

    async def get(self) -> T:
        """The oldest item held; raises :class:`core.media.mux.SubscriptionClosed` once closed."""
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self.closed:
                    raise SubscriptionClosed(f"{self.name} closed")
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._items.clear()
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            wake(waiter)


def wake(fut: asyncio.Future[None]) -> None:
    """Resolve ``fut`` on its own loop: directly from that loop, through ``call_soon_threadsafe`` from any other thread."""
    loop = fut.get_loop()
    try:
        here = asyncio.get_running_loop() is loop
    except RuntimeError:
        here = False
    if here:
        _resolve(fut)
        return
    try:
        loop.call_soon_threadsafe(_resolve, fut)
    except RuntimeError:  # its loop has closed: nobody waits any more
        pass


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
