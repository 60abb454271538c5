"""The services of one running app, built by the app factory and passed in.

No module-level state: tests build as many apps as they like side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import Deployment
from core.metrics import Metrics
from core.plugin_host import PluginHost

if TYPE_CHECKING:
    from core.scheduler import Scheduler


@dataclass
class Services:
    deployment: Deployment
    config_path: Path
    plugins: PluginHost
    data_dir: Path
    metrics: Metrics
    scheduler: Scheduler | None = None
    # filled by core subsystems as they start (media core, camera registry ...)
    started_at: float | None = None
    cameras: Any = None
    clips: Any = None  # core.media.clips.ClipWriter, once started
    transcodes: Any = None  # core.media.transcode.TranscodeHub, once started: what viewers are sent transcoded
    ptz: Any = None  # core.ptz.PtzService, once started
    tours: Any = None  # core.tours.TourRunner, once started
