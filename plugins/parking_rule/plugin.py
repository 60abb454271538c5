"""Illegal-parking rule: the plugin.

The rule's logic is :mod:`plugins.parking_rule.rule` (a state machine over
tracks and zones), its config :mod:`plugins.parking_rule.config`, and the
analyzer that feeds it the core's frames, tracks and zones and publishes its
violations with their evidence :mod:`plugins.parking_rule.analyzer`.
"""

from __future__ import annotations

from datetime import tzinfo

from core.hookspecs import hookimpl
from plugins.parking_rule.analyzer import ParkingAnalyzer
from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import ParkingRule as Rule


class ParkingRule:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
        self.analyzer = ParkingAnalyzer(config, context.deployment.deployment.timezone)

    def rule(self, tz: tzinfo | str) -> Rule:
        """A fresh rule state for the deployment's time zone."""
        return Rule(self.config, tz)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)

    @hookimpl
    def bconnect_health(self, services):
        return {"status": "ok", **dict(self.analyzer.counts)}

    @hookimpl
    async def bconnect_shutdown(self, services):
        await self.analyzer.drain()
