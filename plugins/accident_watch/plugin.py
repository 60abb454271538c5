"""Accident watch: the plugin.

The rule's logic is :mod:`plugins.accident_watch.rule` (a state machine over
tracks and zones), its config :mod:`plugins.accident_watch.config`, the
analyzer that publishes its alerts with their evidence
:mod:`plugins.accident_watch.analyzer`, the PTZ offer
:mod:`plugins.accident_watch.offer`, the routes :mod:`plugins.accident_watch.api`
and the response-time figures :mod:`plugins.accident_watch.response`.
"""

from __future__ import annotations

from core.hookspecs import hookimpl
from plugins.accident_watch.analyzer import AccidentAnalyzer
from plugins.accident_watch.api import AccidentApi
from plugins.accident_watch.config import Config
from plugins.accident_watch.response import ResponseTimes


class AccidentWatch:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
        self.analyzer = AccidentAnalyzer(config)
        self.times = ResponseTimes(config.response_window)
        self.api = AccidentApi(self.times)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.api.routes():
            register(route)

    @hookimpl
    def bconnect_startup(self, services):
        self.api.services = services
        self.times.start(services.events)

    @hookimpl
    async def bconnect_shutdown(self, services):
        await self.analyzer.drain()
        await self.times.stop()

    @hookimpl
    def bconnect_health(self, services):
        return {"status": "ok", **dict(self.analyzer.counts), "response": self.times.figures()}
