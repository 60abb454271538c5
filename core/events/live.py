"""Live fan-out: one bounded queue per subscriber; a subscriber that falls behind is dropped.

Publishing never waits for a subscriber. When a subscriber's queue is full it
is closed instead of growing: a browser's EventSource then reconnects with
``Last-Event-ID`` and the stream replays what it missed from the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.events.metrics import EventMetrics


@dataclass(frozen=True)
class Message:
    """``kind`` is ``event`` (a new event) or ``ack`` (one was acknowledged); ``body`` is JSON-ready."""

    kind: str
    seq: int
    agency: str
    body: dict[str, Any]


class Dropped(Exception):
    """The subscriber fell behind and was dropped."""


class Subscription:
    def __init__(self, hub: LiveHub, maxsize: int, accepts: Callable[[Message], bool]) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        self.accepts = accepts
        self.dropped = False
        self.hub = hub

    async def next(self) -> Message:
        """The next message; :class:`Dropped` once the subscriber has fallen behind."""
        if self.dropped:
            raise Dropped(f"fell behind by {self.queue.maxsize} messages")
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)


class LiveHub:
    def __init__(self, metrics: EventMetrics, maxsize: int = 64) -> None:
        self.metrics = metrics
        self.maxsize = maxsize
        self.subscribers: set[Subscription] = set()

    def subscribe(self, accepts: Callable[[Message], bool] = lambda m: True) -> Subscription:
        sub = Subscription(self, self.maxsize, accepts)
        self.subscribers.add(sub)
        self.metrics.live_clients.set(len(self.subscribers))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)
        self.metrics.live_clients.set(len(self.subscribers))

    def offer(self, message: Message) -> None:
        for sub in list(self.subscribers):
            if not sub.accepts(message):
                continue
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.dropped = True
                self.unsubscribe(sub)
                self.metrics.live_dropped.inc()
