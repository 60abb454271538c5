"""Plain stream driver: cameras listed by URL in the deployment file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, StreamSource


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str
    url: str
    agency: str = "pemkot"
    area: str | None = None
    transport: str = Field(default="tcp", pattern="^(tcp|udp)$")
    username: str | None = None
    password: str | None = None
    sub_url: str | None = None
    lat: float | None = None
    lon: float | None = None
    loop: bool = False  # a local file, replayed in real time


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraEntry] = []


class StreamUrl:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        ids = [c.id for c in config.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera id repeated: {', '.join(dupes)}")
        self.config = config
        self.name = "stream_url"

    async def cameras(self) -> list[CameraInfo]:
        out = []
        for c in self.config.cameras:
            main = StreamSource(c.url, c.transport, c.username, c.password, realtime_loop=c.loop)
            sub = StreamSource(c.sub_url, c.transport, c.username, c.password) if c.sub_url else None
            out.append(
                CameraInfo(
                    id=c.id, name=c.name, agency=c.agency, driver=self.name, main=main, sub=sub,
                    area=c.area, lat=c.lat, lon=c.lon,
                )
            )
        return out

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)
