"""The ``vision_onnx`` plugin: registers one ONNX detector, loads it at start-up, reports it in health."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.hookspecs import hookimpl
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.detector import OnnxDetector


class VisionOnnx:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        path = Path(config.model)
        self.detector = OnnxDetector(config, path if path.is_absolute() else context.data_dir / path, context.name)

    @hookimpl
    def bconnect_register_detectors(self, register):
        register(self.detector)

    @hookimpl
    async def bconnect_startup(self, services):
        await asyncio.to_thread(self.detector.start)

    @hookimpl
    async def bconnect_shutdown(self, services):
        await asyncio.to_thread(self.detector.close)

    @hookimpl
    def bconnect_health(self, services):
        return self.detector.health()
