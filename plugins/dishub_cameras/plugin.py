"""Dishub ATCS camera driver.

Foundation stage: the plugin and its typed config exist so that deployments
validate; the camera inventory, PTZ and patrol tours are the camera-plugins
work (tracked in the issue of that name).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.hookspecs import hookimpl


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tour_dwell_s: float = Field(default=20.0, gt=0)
    manual_control_timeout_s: float = Field(default=120.0, gt=0)
    areas: list[str] = []  # empty: every area of the inventory


class DishubCameras:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.context = context
