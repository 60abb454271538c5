"""The event core as a default plugin: the bus, the outbox to the sinks, the event routes.

Registered after the media core (the bus asks its registry for a camera's
agency and area). Sinks are collected at start-up and first called once every
plugin's ``bconnect_startup`` has run, so a sink's own plugin is ready.
"""

from __future__ import annotations

from core.areas import enforcement_mode
from core.events.api import EventsApi
from core.events.bus import EventBus
from core.events.live import LiveHub
from core.events.metrics import EventMetrics
from core.events.outbox import Outbox, OutboxSettings
from core.events.sinks import collect_sinks
from core.hookspecs import hookimpl


class EventsPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        self.api = EventsApi()
        self.outbox: Outbox | None = None

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.api.routes():
            register(route)

    @hookimpl
    async def bconnect_startup(self, services):
        settings = services.deployment.events
        metrics = EventMetrics(services.metrics.registry)

        def camera(camera_id: str):
            rt = services.cameras.get(camera_id) if services.cameras is not None else None
            return rt.info if rt is not None else None

        bus = EventBus(
            camera, lambda area: enforcement_mode(services.deployment, area), metrics, LiveHub(metrics, settings.live_queue)
        )
        await bus.load()
        self.outbox = Outbox(
            collect_sinks(services.plugins),
            services.plugins,
            metrics,
            OutboxSettings(settings.sink_retry_base_s, settings.sink_retry_cap_s, settings.sink_timeout_s),
            newest=lambda: bus.newest,
        )
        bus.on_stored = self.outbox.notify
        bus.sinks_health = self.outbox.health
        await self.outbox.start(ready=lambda: services.started_at is not None)
        services.events = bus
        self.api.bus = bus

    @hookimpl
    async def bconnect_shutdown(self, services):
        if self.outbox is not None:
            await self.outbox.stop()
        self.api.bus = None
