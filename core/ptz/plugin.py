"""The core plugin that loads the drivers' PTZ cameras at start-up and serves the PTZ API."""

from __future__ import annotations

import logging

from core.hookspecs import hookimpl
from core.interfaces import CameraInfo
from core.ptz.api import routes

log = logging.getLogger("bconnect.ptz")


class PtzPlugin:
    """Core plugin: fills the app's PTZ service (``services.ptz``) from every driver."""

    def __init__(self, config, context) -> None:
        self.context = context

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in routes():
            register(route)

    @hookimpl
    async def bconnect_startup(self, services):
        ptz = services.ptz
        drivers = services.plugins.collect("bconnect_register_camera_drivers")
        known: dict[tuple[str, str], list[CameraInfo]] | None = None
        if services.cameras is not None:  # the media core listed them already
            known = {}
            for runtime in services.cameras.all():
                known.setdefault((runtime.plugin, runtime.info.driver), []).append(runtime.info)
        await ptz.load_drivers(drivers, known)
        log.info("PTZ: %d cameras, %d patrol tours proposed", len(ptz.camera_ids()), len(ptz.proposed_tours()))
