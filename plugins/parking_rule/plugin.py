"""Illegal-parking rule: the plugin.

The rule's logic is :mod:`plugins.parking_rule.rule` (a state machine over
tracks and zones), its config :mod:`plugins.parking_rule.config`. The analyzer
that feeds it frames from the core's frame hub is a thin adapter added when
the analyzer contract lands; until then the plugin holds the validated config
and builds the rule.
"""

from __future__ import annotations

from datetime import tzinfo

from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import ParkingRule as Rule


class ParkingRule:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context

    def rule(self, tz: tzinfo | str) -> Rule:
        """A fresh rule state for the deployment's time zone."""
        return Rule(self.config, tz)
