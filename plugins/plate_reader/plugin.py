"""The ``plate_reader`` plugin: reads Indonesian plates (TNKB) for the enforcement workflow.

It registers the TNKB rules as the violation workflow's plate validator
(:class:`~plugins.plate_reader.validator.TnkbValidator`), and itself as the
core's plate reader (:class:`~plugins.plate_reader.service.VehiclePlates`): the
parking rule hands it a violating vehicle's pictures through ``services.plates``.
Plate crops are read with :meth:`PlateReader.read_track`. The sessions are built on the reader's
thread from start-up on (start-up does not wait), so that the first violation is not slow.
"""

from __future__ import annotations

import asyncio

from core.hookspecs import hookimpl
from plugins.plate_reader.config import Config
from plugins.plate_reader.reader import PlateReader
from plugins.plate_reader.service import VehiclePlates
from plugins.plate_reader.validator import TnkbValidator


class PlateReaderPlugin:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.reader = PlateReader(config)

    @hookimpl
    def bconnect_register_plate_validators(self, register):
        register(TnkbValidator(self.config.rules()))

    @hookimpl
    def bconnect_register_plate_readers(self, register):
        register(VehiclePlates(self.reader))

    @hookimpl
    async def bconnect_startup(self, services):
        self.reader.warm_soon()  # health says degraded until the sessions are built

    @hookimpl
    async def bconnect_shutdown(self, services):
        await asyncio.to_thread(self.reader.close)

    @hookimpl
    def bconnect_health(self, services):
        return self.reader.health()
