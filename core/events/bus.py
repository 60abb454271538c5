"""The event bus: publish stores an event, then fans it out to the outbox and live subscribers.

``publish`` returns once the event is committed to the database: what the bus
accepted survives a crash. Publishes are stored one at a time (a lock), so
the order of ``seq`` is the order of commits and the outbox, which follows
``seq``, can never skip an event that committed late.

Plugins read events through :class:`EventReader`: get one, or subscribe to
the live feed (a bounded queue; a subscriber that falls behind is dropped).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from core.events import store
from core.events.live import LiveHub, Message, Subscription
from core.events.metrics import EventMetrics
from core.events.store import StoredEvent
from core.events.types import Event, Mode
from core.interfaces import CameraInfo

log = logging.getLogger("bconnect.events")


class UnknownCamera(ValueError):
    """The event names a camera the deployment does not have."""


@runtime_checkable
class EventReader(Protocol):
    """What a plugin may do with the events besides publishing: read, follow."""

    async def get(self, event_id: str) -> StoredEvent | None: ...

    def subscribe(self) -> Subscription:
        """Live messages (``Message.kind`` ``event`` or ``ack``); call ``close()`` when done."""
        ...


class EventBus:
    def __init__(
        self,
        camera: Callable[[str], CameraInfo | None],
        mode: Callable[[str | None], Mode],
        metrics: EventMetrics,
        live: LiveHub,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.camera = camera
        self.mode = mode
        self.metrics = metrics
        self.live = live
        self.on_stored = on_stored  # wakes the outbox
        self.sinks_health: Callable[[], dict[str, dict]] = dict  # the outbox's view of each sink
        self.newest = 0
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        self.newest = await store.last_seq()

    async def publish(self, event: Event) -> Event:
        """Store ``event`` (agency, area and mode set from its camera) and fan it out.

        Returns the event as stored. Publishing an id already stored returns the
        stored event and sends nothing again. :class:`UnknownCamera` if the
        camera is not the deployment's.
        """
        if not isinstance(event, Event):
            raise TypeError(f"publish takes a core.events.types.Event, not {type(event).__name__}")
        info = self.camera(event.camera_id)
        if info is None:
            raise UnknownCamera(f"event {event.kind}: unknown camera {event.camera_id!r}")
        event = dataclasses.replace(event, agency=info.agency, area=info.area, mode=self.mode(info.area))
        async with self._lock:
            stored, created = await store.insert(event)
            if created:
                self.newest = max(self.newest, stored.seq)
        if not created:
            return stored.event
        self.metrics.published.labels(kind=event.kind).inc()
        log.info("event %s %s on %s (%s, %s)", stored.event.id, event.kind, event.camera_id, event.mode, event.priority)
        self.on_stored()
        self.live.offer(Message("event", stored.seq, stored.event.agency, stored.public()))
        return stored.event

    async def get(self, event_id: str) -> StoredEvent | None:
        return await store.get(event_id)

    def subscribe(self, accepts: Callable[[Message], bool] = lambda m: True) -> Subscription:
        return self.live.subscribe(accepts)

    def acknowledged(self, item: StoredEvent) -> None:
        """Tell live subscribers that ``item`` was acknowledged (the API calls this)."""
        if item.ack is not None:
            waited = (item.ack.at - item.received_at).total_seconds()
            self.metrics.response.labels(kind=item.event.kind).observe(max(waited, 0.0))
        self.live.offer(Message("ack", item.seq, item.event.agency, item.public()))
