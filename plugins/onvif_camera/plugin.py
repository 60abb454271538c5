"""Standard ONVIF cameras: any vendor's device that speaks ONVIF Profile S (+ PTZ).

Each configured device is asked once, at start-up, for its media profiles,
stream and snapshot URIs and (when it has PTZ) its presets. A device that
cannot be reached or refuses the credentials is still listed, so that it
shows as offline with the reason instead of vanishing: its stream then goes
to ``stream_url`` if one is configured, else to the RTSP default port of its
host; the reason is in ``/api/health``. Credentials stay in the config: they
travel to the core only inside :class:`core.interfaces.StreamSource`, which
never shows them.

::

    [[plugins.onvif_camera.devices]]
    id = "mth-01"
    name = "MT Haryono / Beruang Madu"
    host = "mth-01.dishub.invalid"
    username = "bconnect"
    password = "..."
    agency = "dishub"
    area = "beruang_madu"
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.areas import unknown_area
from core.config import AgencyRef, CameraId, check_unique
from core.hookspecs import hookimpl
from core.interfaces import Capability, CameraInfo, StreamSource, TourPlan, TourStop
from core.drivers.onvif import Description, OnvifDevice, OnvifError

log = logging.getLogger("bconnect.plugin.onvif_camera")


class Device(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CameraId
    name: str | None = None
    host: str = Field(min_length=1)
    port: int = Field(default=80, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    agency: AgencyRef = Field(default="pemkot", validate_default=True)
    area: str | None = None
    profile: str | None = None  # token or name; default: the device's first profile
    sub_profile: str | None = None  # default: the smallest other profile
    transport: Literal["tcp", "udp"] = "tcp"
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    stream_url: str | None = None  # overrides GetStreamUri
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    tour_dwell_s: float | None = Field(default=None, gt=0)  # set: propose a tour of all presets (patrol_tours runs it)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    devices: list[Device] = []
    manual_control_timeout_s: float = Field(default=120.0, gt=0)

    @field_validator("devices")
    @classmethod
    def _unique_ids(cls, devices: list[Device]) -> list[Device]:
        check_unique((d.id for d in devices), "device id")
        return devices


class OnvifCameras:
    Config = Config
    name = "onvif_camera"

    def __init__(self, config: Config, context) -> None:
        for d in config.devices:
            reason = unknown_area(context.deployment, d.area)
            if reason:
                raise ValueError(f"device {d.id!r}: {reason}")
        self.config = config
        self.manual_control_timeout_s = config.manual_control_timeout_s
        self._devices = {
            d.id: OnvifDevice(
                d.host,
                d.port,
                d.username,
                d.password.get_secret_value() if d.password else None,
                d.timeout_s,
                d.profile,
                d.sub_profile,
            )
            for d in config.devices
        }
        self._described: dict[str, Description] = {}
        self.problems: dict[str, str] = {}
        self._cameras: list[CameraInfo] | None = None
        self._loading = asyncio.Lock()

    # --- core.interfaces.CameraDriver / PtzDriver / TourDriver ------------------------------

    async def cameras(self) -> list[CameraInfo]:
        async with self._loading:
            if self._cameras is None:
                results = await asyncio.gather(*(self._describe(d) for d in self.config.devices))
                self._cameras = list(results)
            return list(self._cameras)

    def ptz(self, camera_id: str) -> OnvifDevice | None:
        desc = self._described.get(camera_id)
        return self._devices[camera_id] if desc is not None and desc.ptz else None

    def tours(self) -> list[TourPlan]:
        plans = []
        for d in self.config.devices:
            desc = self._described.get(d.id)
            if d.tour_dwell_s and desc is not None and desc.ptz and desc.presets:
                stops = tuple(TourStop(p.id, d.tour_dwell_s) for p in desc.presets)
                plans.append(TourPlan(d.id, stops))
        return plans

    async def _describe(self, d: Device) -> CameraInfo:
        device = self._devices[d.id]
        user = d.username
        password = d.password.get_secret_value() if d.password else None
        try:
            desc = await device.describe()
        except OnvifError as exc:
            self.problems[d.id] = str(exc)
            log.warning("camera %s: %s", d.id, exc, extra={"plugin": self.name})
            main = StreamSource(d.stream_url or f"rtsp://{d.host}:554/", d.transport, user, password)
            return CameraInfo(
                id=d.id, name=d.name or d.id, agency=d.agency, driver=self.name, main=main,
                area=d.area, lat=d.lat, lon=d.lon,
            )
        self._described[d.id] = desc
        self.problems.pop(d.id, None)
        caps = set()
        if desc.ptz:
            caps |= {Capability.PTZ, Capability.ZOOM}
        if desc.presets:
            caps.add(Capability.PRESETS)
        if desc.snapshot_uri:
            caps.add(Capability.SNAPSHOT)
        return CameraInfo(
            id=d.id,
            name=d.name or d.id,
            agency=d.agency,
            driver=self.name,
            main=StreamSource(d.stream_url or desc.main_uri, d.transport, user, password),
            sub=StreamSource(desc.sub_uri, d.transport, user, password) if desc.sub_uri else None,
            snapshot=StreamSource(desc.snapshot_uri, username=user, password=password) if desc.snapshot_uri else None,
            area=d.area,
            lat=d.lat,
            lon=d.lon,
            capabilities=frozenset(caps),
            presets=desc.presets,
        )

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self._devices.values()))

    # --- hooks -----------------------------------------------------------------------------------

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)

    @hookimpl
    def bconnect_health(self, services):
        if not self.problems:
            return {"status": "ok", "devices": len(self._devices)}
        reason = "; ".join(f"{cam}: {why}" for cam, why in sorted(self.problems.items()))
        return {"status": "degraded", "reason": reason, "devices": len(self._devices), "problems": dict(self.problems)}
