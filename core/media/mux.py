"""The per-camera multiplexer: GOP cache, pre-roll ring buffer, bounded subscribers.

Lives on the event loop. The ingest thread hands packets over in batches
(:class:`core.media.handoff.LoopHandoff`); :meth:`CameraMux.publish` then appends
each packet to the ring and to every subscriber's queue: a reference, never a
copy. A subscriber that falls behind loses its queue and resumes at the next
keyframe, so it never slows the ingest or any other subscriber.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Iterable

from core.media.packets import MediaPacket, StreamInfo

START_MODES = ("gop", "live", "next")


class SubscriptionClosed(Exception):
    """The subscription was closed, or its camera removed."""


class Subscription:
    """One consumer's bounded view of a camera's packets.

    ``start="gop"`` delivers the cached packets since the last keyframe first,
    ``"live"`` waits for the next keyframe, ``"next"`` takes every packet from
    now on (for a clip that continues a pre-roll).
    """

    # whether its losses count as the camera's (``CameraMux.dropped``, the camera's health): a viewer or
    # recorder losing packets is; a reader whose owner counts its own losses (the analytics) is not
    camera_drops = True

    def __init__(self, mux: CameraMux, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.mux = mux
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._queue: collections.deque[MediaPacket] = collections.deque()
        self._limit = maxsize  # above maxsize only while a GOP cache drains
        self._need_keyframe = False
        self._count_skips = True  # a "live" start waits for a keyframe without counting drops
        self._waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r} on {self.mux.camera_id!r} queued={len(self._queue)} dropped={self.dropped}>"

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _lost(self, n: int) -> None:
        self.dropped += n
        if self.camera_drops:
            self.mux.dropped += n

    def _push(self, packet: MediaPacket) -> None:
        queue = self._queue
        if self._need_keyframe:
            if not packet.keyframe:
                if self._count_skips:
                    self._lost(1)
                return
            self._need_keyframe = False
            self._count_skips = True
        elif len(queue) >= self._limit:
            lost = len(queue)
            queue.clear()
            self._limit = self.maxsize
            if not packet.keyframe:
                self._need_keyframe = True
                lost += 1
            self._lost(lost)
            if self._need_keyframe:
                return
        queue.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _prefill(self, packets: list[MediaPacket]) -> None:
        self._queue.extend(packets)
        self._limit = max(self.maxsize, len(packets) + self.maxsize)

    async def get(self) -> MediaPacket:
        """The next packet; raises :class:`SubscriptionClosed` once closed."""
        queue = self._queue
        while not queue:
            if self.closed:
                raise SubscriptionClosed(f"subscription {self.name!r} on camera {self.mux.camera_id!r} is closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._limit > self.maxsize and len(queue) <= self.maxsize:
            self._limit = self.maxsize
        return queue.popleft()

    def replay_gop(self, max_age_s: float | None = None) -> bool:
        """Start again from the camera's latest keyframe (the GOP cache); ``False`` if there is none.

        With ``max_age_s``, also ``False`` when the newest cached packet is
        older than that: the camera is down, and its last GOP is not live video.

        For a viewer that lost its picture (a PLI): pass-through cannot make
        the camera send a keyframe, but the last one and the frames after it
        are here. What was queued is contained in them, so nothing is lost.
        """
        gop = self.mux._gops[-1] if self.mux._gops else None
        if not gop or self.closed:
            return False
        if max_age_s is not None and time.monotonic() - gop[-1].arrival > max_age_s:
            return False
        self._queue.clear()
        self._prefill(gop)
        self._need_keyframe = False
        return True

    def get_nowait(self) -> MediaPacket | None:
        if self._queue:
            return self._queue.popleft()
        if self.closed:
            raise SubscriptionClosed(f"subscription {self.name!r} on camera {self.mux.camera_id!r} is closed")
        return None

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        while True:
            try:
                yield await self.get()
            except SubscriptionClosed:
                return

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.mux._remove(self)
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CameraMux:
    """Fan-out of one camera's packets, without decoding or copying them."""

    def __init__(self, camera_id: str, *, ring_seconds: float = 10.0) -> None:
        self.camera_id = camera_id
        self.ring_seconds = ring_seconds
        self.stream_info: StreamInfo | None = None
        self.generation = 0
        self.packets = 0
        self.dropped = 0  # over all subscribers, closed ones included
        self.closed = False
        # the ring: whole GOPs, each a list starting at a keyframe; the last one is the GOP cache
        self._gops: collections.deque[list[MediaPacket]] = collections.deque()
        self._subs: list[Subscription] = []

    def __repr__(self) -> str:
        return f"<CameraMux {self.camera_id!r} subscribers={len(self._subs)} gops={len(self._gops)}>"

    # --- producer side (event loop, called by the ingest hand-off) -----------

    def set_stream_info(self, info: StreamInfo) -> None:
        self.stream_info = info

    def publish(self, packet: MediaPacket) -> None:
        """Add one packet: ring, GOP cache, then every subscriber."""
        if self.closed:
            return
        gops = self._gops
        if packet.keyframe:
            gops.append([packet])
            self.generation = packet.generation
            self._trim(packet.arrival)
        elif gops and gops[-1][0].generation == packet.generation:
            gops[-1].append(packet)
        else:
            return  # nothing decodable before this connection's first keyframe
        self.packets += 1
        for sub in self._subs:
            sub._push(packet)

    def publish_many(self, packets: Iterable[MediaPacket]) -> None:
        for packet in packets:
            self.publish(packet)

    def _trim(self, now: float) -> None:
        # drop the oldest GOP while the next one alone still reaches back far enough
        gops = self._gops
        horizon = now - self.ring_seconds
        while len(gops) > 1 and gops[1][0].arrival <= horizon:
            gops.popleft()

    # --- consumer side -------------------------------------------------------

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    def gop(self) -> list[MediaPacket]:
        """The packets since the last keyframe (the GOP cache)."""
        return list(self._gops[-1]) if self._gops else []

    def last_keyframe(self) -> MediaPacket | None:
        return self._gops[-1][0] if self._gops else None

    def preroll(self, seconds: float) -> list[MediaPacket]:
        """About the last ``seconds`` of packets, starting at a keyframe.

        Starts at the latest keyframe at least ``seconds`` old (or the oldest
        one kept), within the current generation: the packets of an earlier
        connection are not continuous with the present ones.
        """
        gops = self._gops
        if not gops:
            return []
        newest = gops[-1][-1]
        horizon = newest.arrival - seconds
        start = len(gops) - 1
        while start > 0 and gops[start - 1][0].generation == newest.generation and gops[start][0].arrival > horizon:
            start -= 1
        out: list[MediaPacket] = []
        for i in range(start, len(gops)):
            out.extend(gops[i])
        return out

    def subscribe(
        self, name: str, *, maxsize: int = 128, start: str = "gop", kind: type[Subscription] | None = None
    ) -> Subscription:
        """``kind``: a :class:`Subscription` subclass (a thread's reader); plain by default."""
        if self.closed:
            raise SubscriptionClosed(f"camera {self.camera_id!r} is stopped")
        if start not in START_MODES:
            raise ValueError(f"start must be one of {', '.join(START_MODES)}, not {start!r}")
        sub = (kind or Subscription)(self, name, maxsize)
        if start == "gop" and self._gops:
            sub._prefill(self._gops[-1])
        elif start == "live":
            sub._need_keyframe = True
            sub._count_skips = False
        self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        try:
            self._subs.remove(sub)
        except ValueError:
            pass

    def close(self) -> None:
        """Stop: every subscription ends, the caches are released."""
        self.closed = True
        for sub in list(self._subs):
            sub.close()
        self._gops.clear()
