"""Logs when motion starts and stops on a camera: the example analyzer of docs/plugins.md.

Uses only what the frame hub measures (``frame.motion``), so it costs almost
nothing; the frames it saw are counted per camera in ``GET /api/health``.
"""

from __future__ import annotations

import collections
import logging

from pydantic import BaseModel, ConfigDict, Field

from core.config import CameraId
from core.hookspecs import hookimpl
from core.interfaces import AnalyzerContext, CameraInfo, Frame

log = logging.getLogger("bconnect.plugin.motion_logger")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraId] = []  # none listed: every camera
    fps: float = Field(default=2.0, gt=0, le=25)
    threshold: float = Field(default=0.01, gt=0, le=1)  # share of the picture that must change
    quiet_s: float = Field(default=5.0, gt=0)  # no motion this long: it stopped


class MotionAnalyzer:
    name = "motion_logger"
    needs_tracks = False  # reads only frame.motion: the detector need not run for it

    def __init__(self, config: Config) -> None:
        self.config = config
        self.fps = config.fps
        self.frames: collections.Counter[str] = collections.Counter()  # per camera, for health
        self.moving_since: dict[str, float] = {}  # camera -> stream time motion started
        self.last_motion: dict[str, float] = {}

    def wants(self, camera: CameraInfo) -> bool:
        return not self.config.cameras or camera.id in self.config.cameras

    async def process(self, frame: Frame, ctx: AnalyzerContext) -> None:
        # async and cheap: runs on the event loop; a costly analyzer is a plain def (run in a thread)
        self.frames[frame.camera_id] += 1
        now = frame.wall.timestamp()
        cam = frame.camera_id
        if frame.motion >= self.config.threshold:
            self.last_motion[cam] = now
            if cam not in self.moving_since:
                self.moving_since[cam] = now
                log.info("motion on %s (%s): %.1f%% of the picture", cam, ctx.camera.name, 100 * frame.motion)
        elif cam in self.moving_since and now - self.last_motion[cam] >= self.config.quiet_s:
            lasted = self.last_motion[cam] - self.moving_since.pop(cam)
            log.info("motion on %s stopped after %.1f s", cam, lasted)


class MotionLogger:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.analyzer = MotionAnalyzer(config)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.analyzer)

    @hookimpl
    def bconnect_health(self, services):
        return {
            "status": "ok",
            "frames": dict(self.analyzer.frames),
            "moving": sorted(self.analyzer.moving_since),
        }
