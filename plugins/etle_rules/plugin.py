"""ETLE rules for fixed cameras: red light, wrong way and speed.

The rules' logic is :mod:`plugins.etle_rules.rule` (with one state machine per
offence: :mod:`~plugins.etle_rules.red_light`, :mod:`~plugins.etle_rules.wrong_way`,
:mod:`~plugins.etle_rules.speed`), the light's state
:mod:`plugins.etle_rules.signal`, the config :mod:`plugins.etle_rules.config`,
and the analyzer that publishes offences with their evidence
:mod:`plugins.etle_rules.analyzer`.
"""

from __future__ import annotations

from core.hookspecs import hookimpl
from plugins.etle_rules.analyzer import EtleAnalyzer
from plugins.etle_rules.config import Config


class EtleRules:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
        self.analyzer = EtleAnalyzer(config)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)

    @hookimpl
    def bconnect_health(self, services):
        return {"status": "ok", "speeds_measured": len(self.analyzer.rule.speeds), **dict(self.analyzer.counts)}

    @hookimpl
    async def bconnect_shutdown(self, services):
        await self.analyzer.drain()
