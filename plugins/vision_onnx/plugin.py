"""The ``vision_onnx`` plugin: registers one ONNX detector, loads it at start-up, reports it in health."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.hookspecs import hookimpl
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.default_model import SHARED_DATA
from plugins.vision_onnx.detector import OnnxDetector


def model_path(configured: str, data_dir: Path) -> Path:
    """Absolute as given; relative: under the deployment's data folder, else under the project's
    ``data/`` where set-up builds the default model (so every deployment shares one copy)."""
    path = Path(configured).expanduser()
    if path.is_absolute():
        return path
    for base in (data_dir, SHARED_DATA):
        if (base / path).is_file():
            return base / path
    return data_dir / path  # missing: the reason names the deployment's own folder


class VisionOnnx:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.detector = OnnxDetector(config, model_path(config.model, context.data_dir), context.name)

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
