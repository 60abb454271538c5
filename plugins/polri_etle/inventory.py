"""The shape of ``inventory.toml``: Polri's CCTV and ETLE cameras as data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.inventory import CAMERA_ID, load_inventory

INVENTORY = Path(__file__).with_name("inventory.toml")


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=CAMERA_ID)
    name: str
    kind: Literal["cctv", "etle"]
    site: str
    area: str | None = None  # None: outside the rollout areas
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    unit: str | None = Field(default=None, pattern=CAMERA_ID)  # set: a mobile camera in this unit

    @property
    def mobile(self) -> bool:
        return self.unit is not None


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    placeholder: bool
    cameras: list[CameraEntry]

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        for what, values in (("camera id", [c.id for c in self.cameras]), ("unit", [c.unit for c in self.cameras if c.unit])):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{what} repeated: {', '.join(dupes)}")
        return self


def read_inventory(path: Path = INVENTORY) -> Inventory:
    return load_inventory(path, Inventory)
