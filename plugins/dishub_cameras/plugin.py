"""Dishub ATCS cameras: 37 PTZ cameras reaching 167 monitoring points through presets.

The fleet is data (``inventory.toml``, placeholder names and positions);
where the streams are comes from the deployment::

    [plugins.dishub_cameras]
    url_template = "rtsp://atcs-{area_number}-{number}.dishub.invalid:554/Streaming/Channels/101"
    sub_url_template = "rtsp://atcs-{area_number}-{number}.dishub.invalid:554/Streaming/Channels/102"
    username = "bconnect"
    password = "..."
    tour_dwell_s = 20                 # each preset of the patrol tour
    manual_control_timeout_s = 120    # an operator's lock
    areas = ["beruang_madu"]          # only these areas' cameras; empty: all

    [plugins.dishub_cameras.cameras.atcs-bm-01]   # one camera's exceptions
    url = "rtsp://atcs-bm-01-cam.dishub.invalid:554/live"
    onvif_host = "atcs-bm-01-ptz.dishub.invalid"
    tour = false

Template fields: ``id``, ``area``, ``number`` (1..37, inventory order),
``area_number`` (1..4: beruang_madu, beller, balikpapan_baru, wika) and
``index`` (1.. within the area). PTZ goes over ONVIF to the stream's host
(or ``onvif_host``); every PTZ camera patrols its presets unless ``tour = false``.
"""

from __future__ import annotations

import asyncio
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from core.drivers.fleet import build_fleet, numbering
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, Capability, Preset, TourPlan, TourStop
from core.inventory import StreamOverride, StreamSettings
from plugins.dishub_cameras.inventory import AREAS, CameraEntry, read_inventory
from core.drivers.onvif import OnvifDevice

CAPABILITIES = frozenset({Capability.PTZ, Capability.PRESETS, Capability.ZOOM})


class CameraOverride(StreamOverride):
    onvif_host: str | None = None
    onvif_port: int | None = Field(default=None, ge=1, le=65535)
    tour: bool = True
    tour_dwell_s: float | None = Field(default=None, gt=0)


class Config(StreamSettings):
    tour_dwell_s: float = Field(default=20.0, gt=0)
    manual_control_timeout_s: float = Field(default=120.0, gt=0)
    areas: list[str] = []  # empty: every area of the inventory
    ptz: Literal["onvif", "none"] = "onvif"
    onvif_port: int = Field(default=80, ge=1, le=65535)
    onvif_timeout_s: float = Field(default=5.0, gt=0, le=60)
    cameras: dict[str, CameraOverride] = {}


class DishubCameras:
    Config = Config
    name = "dishub_cameras"

    def __init__(self, config: Config, context) -> None:
        inventory = read_inventory()
        unknown = sorted(set(config.areas) - set(AREAS))
        if unknown:
            raise ValueError(f"areas: unknown area(s) {', '.join(unknown)} (inventory areas: {', '.join(AREAS)})")
        wanted = set(config.areas or AREAS)
        self._fleet = build_fleet(
            inventory.cameras,
            config,
            config.cameras,
            context.deployment,
            _fields,
            take=lambda c: c.area in wanted,
            sample=_SAMPLE,
            area_hint="; declare it or list the wanted areas in `areas`",
        )
        self._entries = list(self._fleet.entries)
        self.config = config
        self.manual_control_timeout_s = config.manual_control_timeout_s
        self._ptz: dict[str, OnvifDevice] = {}

    # --- core.interfaces.CameraDriver / PtzDriver / TourDriver ------------------------------

    async def cameras(self) -> list[CameraInfo]:
        return [self._info(c) for c in self._entries]

    def _info(self, c: CameraEntry) -> CameraInfo:
        presets = tuple(Preset(p.id, p.name) for p in c.presets)
        return self._fleet.info(c, agency="dishub", driver=self.name, capabilities=CAPABILITIES, presets=presets)

    def ptz(self, camera_id: str) -> OnvifDevice | None:
        if self.config.ptz == "none" or camera_id not in self._fleet.fields:
            return None
        if camera_id not in self._ptz:
            main, _ = self._fleet.sources(camera_id)
            o = self.config.cameras.get(camera_id) or CameraOverride()
            host = o.onvif_host or urlsplit(main.url).hostname or ""
            self._ptz[camera_id] = OnvifDevice(
                host, o.onvif_port or self.config.onvif_port, main.username, main.password, self.config.onvif_timeout_s
            )
        return self._ptz[camera_id]

    def tours(self) -> list[TourPlan]:
        if self.config.ptz == "none":
            return []
        plans = []
        for c in self._entries:
            o = self.config.cameras.get(c.id) or CameraOverride()
            if not o.tour:
                continue
            dwell = o.tour_dwell_s or self.config.tour_dwell_s
            plans.append(TourPlan(c.id, tuple(TourStop(p.id, p.dwell_s or dwell) for p in c.presets)))
        return plans

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self._ptz.values()))

    # --- hooks -----------------------------------------------------------------------------------

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)


_SAMPLE = {"id": "atcs-bm-01", "area": "beruang_madu", "number": 1, "area_number": 1, "index": 1}


def _fields(c: CameraEntry, fleet: list[CameraEntry]) -> dict[str, object]:
    return {**numbering(c, fleet, lambda x: x.area), "area": c.area, "area_number": AREAS.index(c.area) + 1}
