"""The shape of ``inventory.toml``: Polri's CCTV and ETLE cameras as data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from core.config import CameraId, check_unique
from core.drivers.fleet import FleetEntry, FleetFile
from core.inventory import load_inventory

INVENTORY = Path(__file__).with_name("inventory.toml")


class CameraEntry(FleetEntry):
    kind: Literal["cctv", "etle"]
    site: str
    unit: CameraId | None = None  # set: a mobile camera in this unit

    @property
    def mobile(self) -> bool:
        return self.unit is not None


class Inventory(FleetFile):
    cameras: list[CameraEntry]

    @model_validator(mode="after")
    def _unique_units(self) -> Inventory:
        check_unique((c.unit for c in self.cameras if c.unit), "unit")
        return self


def read_inventory(path: Path = INVENTORY) -> Inventory:
    return load_inventory(path, Inventory)
