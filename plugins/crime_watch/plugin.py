"""Crime watch: loitering and crowd alerts.

Foundation stage: typed config only; the analyzer arrives with the analytics issue.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loiter_s: float = Field(default=300.0, gt=0)
    crowd_size: int = Field(default=8, ge=2)
    night_start: str = Field(default="22:00", pattern=r"^\d{2}:\d{2}$")
    night_end: str = Field(default="05:00", pattern=r"^\d{2}:\d{2}$")


class CrimeWatch:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
