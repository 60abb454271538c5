"""The shape of ``inventory.toml``: Dishub's ATCS fleet as data."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.drivers.fleet import FleetEntry, FleetFile
from core.inventory import load_inventory

INVENTORY = Path(__file__).with_name("inventory.toml")
AREAS = ("beruang_madu", "beller", "balikpapan_baru", "wika")  # rollout order


class PresetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str
    dwell_s: float | None = Field(default=None, gt=0)  # this stop's dwell in the patrol tour


class CameraEntry(FleetEntry):
    area: str  # every ATCS camera stands in a rollout area
    presets: list[PresetEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_presets(self) -> CameraEntry:
        ids = [p.id for p in self.presets]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera {self.id}: preset id repeated")
        return self


class Inventory(FleetFile):
    cameras: list[CameraEntry]

    @model_validator(mode="after")
    def _check(self) -> Inventory:
        strange = sorted({c.area for c in self.cameras} - set(AREAS))
        if strange:
            raise ValueError(f"unknown area(s): {', '.join(strange)} (rollout areas: {', '.join(AREAS)})")
        return self


def read_inventory(path: Path = INVENTORY) -> Inventory:
    return load_inventory(path, Inventory)
