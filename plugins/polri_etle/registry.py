"""Vehicle registration lookup: plate -> owner and vehicle, behind one small interface.

The police registration database (ERI / Regident) is not reachable from here.
A real connector implements :class:`VehicleRegistry`; this deployment ships
:class:`DemoRegistry`, which reads ``demo_registry.toml`` (fictional owners,
marked as demo data). A lookup answers a :class:`Registration`, ``None`` when
the plate is not registered, or raises :class:`RegistryUnavailable` (the
caller also gives up after its timeout): the case then waits, with the reason
shown, and is retried; it is never dropped.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

DEMO_REGISTRY = Path(__file__).with_name("demo_registry.toml")


@dataclass(frozen=True)
class Registration:
    """What the registry says about one plate."""

    plate: str  # normalised: KT1234AB
    owner_name: str
    owner_address: str
    make: str  # merek, e.g. Toyota
    vehicle_type: str  # tipe, e.g. Avanza 1.3 G
    colour: str  # warna, as registered


class RegistryUnavailable(RuntimeError):
    """The registry could not answer now (down, refused, broken answer); the message says why."""


@runtime_checkable
class VehicleRegistry(Protocol):
    """A registration database. ``name`` is shown with each waiting case's reason."""

    name: str

    async def lookup(self, plate: str) -> Registration | None:
        """The registration of ``plate`` (normalised, no spaces), or ``None`` if it has none.
        Raise :class:`RegistryUnavailable` when it cannot answer now; never block the event loop."""
        ...


class DemoRegistry:
    """Registrations read from a TOML file of fictional owners (``[[vehicles]]`` plate, owner_name,
    owner_address, make, vehicle_type, colour); the file must say ``demo = true``."""

    name = "demo"

    def __init__(self, path: Path = DEMO_REGISTRY) -> None:
        self.path = path
        self._by_plate: dict[str, Registration] | None = None

    def load(self) -> dict[str, Registration]:
        """Read the file (blocking: call it in a thread); ``ValueError`` names the file and what is wrong."""
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{self.path}: {exc}") from None
        if data.get("demo") is not True:
            raise ValueError(f"{self.path}: a demo registry must say demo = true")
        found: dict[str, Registration] = {}
        keys = ("plate", "owner_name", "owner_address", "make", "vehicle_type", "colour")
        for i, row in enumerate(data.get("vehicles", [])):
            if not isinstance(row, dict) or set(row) != set(keys) or not all(isinstance(row[k], str) for k in keys):
                raise ValueError(f"{self.path}: vehicles[{i}]: expected the strings {', '.join(keys)}")
            plate = "".join(ch for ch in row["plate"].upper() if ch.isalnum())
            found[plate] = Registration(plate, row["owner_name"], row["owner_address"], row["make"],
                                        row["vehicle_type"], row["colour"])
        return found

    async def lookup(self, plate: str) -> Registration | None:
        if self._by_plate is None:
            try:
                self._by_plate = await asyncio.to_thread(self.load)
            except ValueError as exc:
                raise RegistryUnavailable(str(exc)) from None
        return self._by_plate.get(plate)
