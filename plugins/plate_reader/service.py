"""The reader as the core's plate-reading service (``bconnect_register_plate_readers``).

Analyzers hand the core pictures of a vehicle; the core hands them here. The
answer is the core's :class:`~core.analytics.plates.PlateReading`, so the core
never sees this plugin's types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.analytics.plates import PlateReading
from plugins.plate_reader.reader import PlateReader


class VehiclePlates:
    """Reads the plate in pictures of one vehicle: finds it in each, reads, votes, validates as TNKB."""

    name = "plate_reader"

    def __init__(self, reader: PlateReader) -> None:
        self.reader = reader

    async def read(self, crops: Sequence[Any], vehicle_class: str | None) -> PlateReading:
        read = await self.reader.read_vehicles(list(crops), vehicle_class)
        return PlateReading(
            text=read.text, confidence=read.confidence, valid=read.valid, display=read.display, raw=read.raw,
            colour=read.colour, votes=read.votes, frames=read.frames, reasons=read.reasons,
        )
