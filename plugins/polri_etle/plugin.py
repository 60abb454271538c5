"""Polri CCTV and ETLE cameras.

Foundation stage: typed config only; the inventory, mobile GPS fixes and the
ticketing side arrive with their issues.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gps_stale_after_s: float = Field(default=60.0, gt=0)


class PolriEtle:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
