"""The ``truth_detector`` plugin: the simulator's ground truth as a detector, for tests and evaluation only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.hookspecs import hookimpl
from plugins.truth_detector.detector import TruthDetector
from plugins.truth_detector.replay import ReplayOptions


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    truth_files: list[str] = []  # relative to the data folder; none: every *.truth.json under sim_dir
    sim_dir: str = "sim"
    min_clarity: float = Field(default=0.3, ge=0, le=1)
    min_height: float = Field(default=8.0, ge=0)
    hide_covered: float = Field(default=0.6, gt=0, le=1)


class TruthDetectorPlugin:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.data_dir = Path(context.data_dir)
        options = ReplayOptions(config.min_clarity, config.min_height, config.hide_covered)
        self.detector = TruthDetector(self._files(), options)  # read on start-up, or on the first detect

    def _files(self) -> list[Path]:
        if self.config.truth_files:
            return [self.data_dir / f for f in self.config.truth_files]
        return sorted((self.data_dir / self.config.sim_dir).glob("*.truth.json"))

    @hookimpl
    def bconnect_register_detectors(self, register):
        register(self.detector)

    @hookimpl
    async def bconnect_startup(self, services):
        self.detector.truth_files = self._files()
        await asyncio.to_thread(self.detector.start)
