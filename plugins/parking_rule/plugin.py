"""Illegal-parking rule.

Foundation stage: typed config only (zones and time windows are data); the
analyzer arrives with the analytics issue.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dwell_s: float = Field(default=120.0, gt=0)
    windows: list[Window] = []


class ParkingRule:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
