"""A small packet fan-out with a GOP cache, for streams made inside the core.

The transcoder publishes here once and every viewer of its camera reads its
own bounded queue. A subscriber that falls behind loses its queue and resumes
at the next keyframe; it never holds up the publisher or another subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from core.media.packets import MediaPacket, StreamInfo

MAX_GOP_PACKETS = 600  # longer GOPs are not cached: a viewer waits for a keyframe


class SubscriptionClosed(Exception):
    """The subscription or its fan-out was closed."""


class FanoutSubscription:
    def __init__(self, fanout: Fanout, name: str, maxsize: int) -> None:
        self.fanout = fanout
        self.name = name
        self.dropped = 0
        self.closed = False
        self._queue: asyncio.Queue[MediaPacket | None] = asyncio.Queue(maxsize)
        self._skip = False

    def _offer(self, packet: MediaPacket) -> None:
        if self._skip:
            if not packet.keyframe:
                self.dropped += 1
                return
            self._skip = False
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            self.dropped += self._drain() + 1
            if packet.keyframe:
                self._queue.put_nowait(packet)
            else:
                self._skip = True

    def _drain(self) -> int:
        n = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            n += 1
        return n

    async def get(self) -> MediaPacket:
        if self.closed:
            raise SubscriptionClosed(self.name)
        packet = await self._queue.get()
        if packet is None:
            raise SubscriptionClosed(self.name)
        return packet

    def __aiter__(self) -> FanoutSubscription:
        return self

    async def __anext__(self) -> MediaPacket:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.fanout._subscribers.discard(self)
        self._drain()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)  # wakes a waiting get()


class Fanout:
    def __init__(self, name: str) -> None:
        self.name = name
        self.stream_info: StreamInfo | None = None
        self._gop: list[MediaPacket] = []
        self._subscribers: set[FanoutSubscription] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, packet: MediaPacket) -> None:
        if packet.keyframe:
            self._gop = [packet]
        elif self._gop and len(self._gop) < MAX_GOP_PACKETS:
            self._gop.append(packet)
        else:
            self._gop = []
        for subscriber in list(self._subscribers):
            subscriber._offer(packet)

    def subscribe(self, name: str, *, maxsize: int = 128, start: Literal["gop", "live"] = "gop", **_: Any) -> FanoutSubscription:
        subscription = FanoutSubscription(self, name, maxsize)
        if start == "gop" and self._gop and len(self._gop) <= maxsize:
            for packet in self._gop:
                subscription._queue.put_nowait(packet)
        self._subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._gop = []
