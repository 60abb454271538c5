"""Plain stream driver: cameras listed by URL in the deployment file.

    [plugins.stream_url]
    [[plugins.stream_url.cameras]]
    id = "gate1"
    name = "Gate 1"
    url = "rtsp://gate1.pemkot.invalid:554/stream1"   # rtsp, rtsps, http(s), or a local file path
    username = "viewer"
    password_env = "GATE1_PASSWORD"          # or password = "..." (kept out of logs and APIs)
    area = "beruang_madu"

A local file with ``loop = true`` is replayed in real time, forever, as a
camera would send it: handy for demonstrations and tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import AgencyRef, AreaRef, CameraId, check_unique
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, Capability, StreamSource

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")


def check_url(url: str) -> str:
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in (*NETWORK_SCHEMES, "file"):
            raise ValueError(f"unsupported URL scheme {scheme!r}: use rtsp, rtsps, http, https or a file path")
        if scheme != "file" and not url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]:
            raise ValueError("URL has no host")
    elif not url.strip():
        raise ValueError("empty URL")
    return url


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CameraId
    name: str
    url: str
    agency: AgencyRef = Field(default="pemkot", validate_default=True)
    area: AreaRef | None = None  # a key of [areas]
    transport: str = Field(default="tcp", pattern="^(tcp|udp)$")
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_env: str | None = None  # name of an environment variable holding the password
    sub_url: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    loop: bool = False  # a local file, replayed in real time
    options: dict[str, str] = {}  # extra FFmpeg demuxer options, e.g. {buffer_size = "1048576"}

    @field_validator("url", "sub_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @model_validator(mode="after")
    def _check(self) -> CameraEntry:
        if self.password is not None and self.password_env is not None:
            raise ValueError("set password or password_env, not both")
        if self.loop and "://" in self.url and not self.url.startswith("file://"):
            raise ValueError("loop = true is for local files only")
        return self

    def resolved_password(self) -> str | None:
        if self.password_env is None:
            return self.password
        value = os.environ.get(self.password_env)
        if value is None:
            raise ValueError(f"camera {self.id!r}: environment variable {self.password_env} is not set")
        return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraEntry] = []

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraEntry]) -> list[CameraEntry]:
        check_unique(c.id for c in cameras)
        return cameras


class StreamUrl:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.passwords = {c.id: c.resolved_password() for c in config.cameras}
        self.config = config
        self.name = "stream_url"

    def _source(self, c: CameraEntry, url: str, loop: bool) -> StreamSource:
        if "://" not in url:
            url = str(Path(url).expanduser())
        return StreamSource(
            url, c.transport, c.username, self.passwords[c.id], realtime_loop=loop, options=dict(c.options)
        )

    async def cameras(self) -> list[CameraInfo]:
        out = []
        for c in self.config.cameras:
            main = self._source(c, c.url, c.loop)
            sub = self._source(c, c.sub_url, c.loop and "://" not in c.sub_url) if c.sub_url else None
            out.append(
                CameraInfo(
                    id=c.id,
                    name=c.name,
                    agency=c.agency,
                    driver=self.name,
                    main=main,
                    sub=sub,
                    area=c.area,
                    lat=c.lat,
                    lon=c.lon,
                    capabilities=frozenset({Capability.SNAPSHOT}),
                )
            )
        return out

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)
