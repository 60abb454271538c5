"""PelitaCam cameras (a fictitious vendor): the example driver of docs/camera-drivers.md.

A PelitaCam serves RTSP at /live/main and /live/sub, a JPEG at /snapshot.jpg and a
JSON API with HTTP basic auth: GET /api/v1/presets, POST /api/v1/ptz {"action": ...}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.request

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core.areas import unknown_area
from core.config import AgencyRef, CameraId
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, Capability, Preset, StreamSource

log = logging.getLogger("bconnect.plugin.example_vendor")


class Camera(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CameraId  # lower case, digits, "_" and "-"
    name: str
    host: str  # the camera's address; "host:port" if its HTTP API is not on port 80
    rtsp_port: int = Field(default=554, ge=1, le=65535)
    username: str
    password: SecretStr  # never shown by repr() or in logs
    agency: AgencyRef = Field(default="pemkot", validate_default=True)
    area: str | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[Camera] = []
    timeout_s: float = Field(default=5.0, gt=0)


class PelitaPtz:
    """One camera's PTZ (core.interfaces.PtzControl) over the vendor's JSON API."""

    def __init__(self, cam: Camera, timeout_s: float) -> None:
        self.base = f"http://{cam.host}/api/v1"
        secret = f"{cam.username}:{cam.password.get_secret_value()}".encode()
        self.auth = "Basic " + base64.b64encode(secret).decode()
        self.timeout_s = timeout_s

    def _request(self, path: str, body: dict | None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data, {"Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as answer:
            return json.load(answer)

    async def _call(self, path: str, body: dict | None = None) -> dict:
        return await asyncio.to_thread(self._request, path, body)  # never block the event loop

    async def list_presets(self) -> list[Preset]:
        return [Preset(str(p["id"]), p["name"]) for p in (await self._call("/presets"))["presets"]]

    async def goto_preset(self, preset_id: str) -> None:
        await self._call("/ptz", {"action": "preset", "preset": int(preset_id)})

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._call("/ptz", {"action": "move", "pan": pan, "tilt": tilt, "zoom": zoom})

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._call("/ptz", {"action": "absolute", "pan": pan, "tilt": tilt, "zoom": zoom})

    async def zoom(self, level: float) -> None:
        await self._call("/ptz", {"action": "zoom", "level": level})

    async def stop(self) -> None:
        await self._call("/ptz", {"action": "stop"})


class PelitaCameras:
    Config = Config
    name = "example_vendor"

    def __init__(self, config: Config, context) -> None:  # no I/O in a constructor
        for c in config.cameras:  # a mistake shows in `bconnect check-config`
            if reason := unknown_area(context.deployment, c.area):
                raise ValueError(f"camera {c.id!r}: {reason}")
        self.config = config
        self._ptz = {c.id: PelitaPtz(c, config.timeout_s) for c in config.cameras}

    async def cameras(self) -> list[CameraInfo]:
        return list(await asyncio.gather(*(self._describe(c) for c in self.config.cameras)))

    async def _describe(self, c: Camera) -> CameraInfo:
        try:
            presets = tuple(await self._ptz[c.id].list_presets())
        except Exception as exc:  # still list it: it shows offline, with the reason
            log.warning("camera %s: presets unavailable: %s", c.id, exc)
            presets = ()
        ip, user, secret = c.host.split(":")[0], c.username, c.password.get_secret_value()
        return CameraInfo(
            id=c.id, name=c.name, agency=c.agency, driver=self.name, area=c.area, presets=presets,
            main=StreamSource(f"rtsp://{ip}:{c.rtsp_port}/live/main", username=user, password=secret),
            sub=StreamSource(f"rtsp://{ip}:{c.rtsp_port}/live/sub", username=user, password=secret),
            snapshot=StreamSource(f"http://{c.host}/snapshot.jpg", username=user, password=secret),
            capabilities=frozenset({Capability.PTZ, Capability.PRESETS, Capability.ZOOM, Capability.SNAPSHOT}),
        )

    def ptz(self, camera_id: str) -> PelitaPtz | None:
        return self._ptz.get(camera_id)

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)
