"""The shape of ``inventory.toml``: Polri's CCTV and ETLE cameras as data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import CameraId, check_unique
from core.inventory import load_inventory

INVENTORY = Path(__file__).with_name("inventory.toml")


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CameraId
    name: str
    kind: Literal["cctv", "etle"]
    site: str
    area: str | None = None  # None: outside the rollout areas
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    unit: CameraId | None = None  # set: a mobile camera in this unit

    @property
    def mobile(self) -> bool:
        return self.unit is not None


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    placeholder: bool
    cameras: list[CameraEntry]

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        check_unique(c.id for c in self.cameras)
        check_unique((c.unit for c in self.cameras if c.unit), "unit")
        return self


def read_inventory(path: Path = INVENTORY) -> Inventory:
    return load_inventory(path, Inventory)
