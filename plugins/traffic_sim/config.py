"""The simulator's table in the deployment file: ``[plugins.traffic_sim]``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.config import AgencyRef, AreaRef, CameraId, check_unique
from plugins.traffic_sim.scenarios import SCENARIOS

ScenarioName = Literal[
    "free_flow", "no_parking_stop", "collision", "loiter_night", "crowd", "delivery_stop", "queue",
    "red_light", "red_light_wait", "wrong_way", "speeding", "person_down", "bus_stop", "stop_line_stop",
    "running", "crossing_wait",
]
assert set(ScenarioName.__args__) == set(SCENARIOS)  # type: ignore[attr-defined]


def _resolution(value: str | None) -> str | None:
    if value is None:
        return None
    w, sep, h = value.partition("x")
    if not (sep and w.isdigit() and h.isdigit()):
        raise ValueError("write WIDTHxHEIGHT, e.g. 960x540")
    width, height = int(w), int(h)
    if not (160 <= width <= 1920 and 90 <= height <= 1080):
        raise ValueError("between 160x90 and 1920x1080")
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (yuv420p)")
    return value


def _size(value: str) -> tuple[int, int]:
    w, _, h = value.partition("x")
    return int(w), int(h)


class SimCamera(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CameraId
    name: str
    area: AreaRef  # a key of [areas]
    agency: AgencyRef = Field(default="dishub", validate_default=True)
    scenario: ScenarioName = "free_flow"
    seed: int = Field(default=1, ge=0, le=2**32 - 1)
    night: bool | None = None  # None: the scenario's own lighting
    sub_stream: bool = True  # offer a sub stream when the plugin has a sub_resolution (false: analytics read the main)
    sub_resolution: str | None = None  # this camera's sub stream size; None: the plugin's
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("sub_resolution")
    @classmethod
    def _sub_resolution(cls, value: str | None) -> str | None:
        return _resolution(value)


def _not_larger(value: str | None, main: str | None) -> str | None:
    if value is None or main is None:
        return value
    (w, h), (mw, mh) = _size(value), _size(main)
    if w > mw or h > mh:
        raise ValueError(f"the sub stream ({value}) must not be larger than the main stream ({main})")
    return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = "960x540"
    # a second, smaller stream per camera (the main loop scaled down), as real cameras offer: analytics read it,
    # so the detector's work a frame follows this size, not the main stream's (sub_stream.py); None: main only
    sub_resolution: str | None = None
    fps: int = Field(default=15, ge=5, le=30)
    keyframe_seconds: int = Field(default=2, ge=1, le=10)
    loop_seconds: int = Field(default=30, ge=2, le=300)
    label: bool = True  # the camera's name on screen, as real cameras show it
    wait_for_render: bool = False  # cameras() returns only once every loop is rendered
    cameras: list[SimCamera] = []

    @field_validator("resolution", "sub_resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        return _resolution(value)

    @field_validator("sub_resolution")
    @classmethod
    def _sub_smaller(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _not_larger(value, info.data.get("resolution"))

    @field_validator("cameras")
    @classmethod
    def _cameras(cls, cameras: list[SimCamera], info: ValidationInfo) -> list[SimCamera]:
        check_unique(c.id for c in cameras)
        for cam in cameras:
            try:
                _not_larger(cam.sub_resolution, info.data.get("resolution"))
            except ValueError as exc:
                raise ValueError(f"camera {cam.id!r}: {exc}") from None
        return cameras

    @field_validator("loop_seconds")
    @classmethod
    def _whole_gops(cls, value: int, info: ValidationInfo) -> int:
        key = info.data.get("keyframe_seconds")
        if key and value % key:
            raise ValueError(f"must be a multiple of keyframe_seconds ({key}) so the loop restarts on a keyframe")
        return value

    @property
    def size(self) -> tuple[int, int]:
        return _size(self.resolution)

    def sub_size(self, camera: SimCamera) -> tuple[int, int] | None:
        """The size of ``camera``'s sub stream, or ``None`` when it offers none."""
        size = camera.sub_resolution or self.sub_resolution
        return _size(size) if camera.sub_stream and size else None
