"""Crime watch: loitering, crowds, people in restricted areas out of hours, and sudden running.

The logic is :mod:`plugins.crime_watch.rule` (a state machine over tracks and
zones), its config :mod:`plugins.crime_watch.config`, and the analyzer that
feeds it the core's frames and publishes its alerts with a snapshot and an
evidence clip :mod:`plugins.crime_watch.analyzer`. No face recognition and no
biometric data: only the tracker's boxes are read and kept.
"""

from __future__ import annotations

from datetime import tzinfo

from core.hookspecs import hookimpl
from plugins.crime_watch.analyzer import CrimeAnalyzer
from plugins.crime_watch.config import Config
from plugins.crime_watch.rule import CrimeRule


class CrimeWatch:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
        self.analyzer = CrimeAnalyzer(config, context.deployment.deployment.timezone)

    def rule(self, tz: tzinfo | str) -> CrimeRule:
        """A fresh rule state for the deployment's time zone."""
        return CrimeRule(self.config, tz)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)

    @hookimpl
    def bconnect_health(self, services):
        return {"status": "ok", **dict(self.analyzer.counts)}

    @hookimpl
    async def bconnect_shutdown(self, services):
        await self.analyzer.drain()
