"""The media core as a default plugin: camera registry, transcode hub, clip writer, camera and clip routes.

Registered before the deployment's plugins, so that ``services.cameras`` and
``services.clips`` exist when their ``bconnect_startup`` runs.
"""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.media.api import CameraApi
from core.media.clip_jobs import ClipJobs
from core.media.clips import ClipWriter
from core.media.clips_api import ClipsApi
from core.media.ingest_settings import IngestSettings
from core.media.registry import CameraRegistry
from core.media.transcode import TranscodeHub


class MediaPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        self.api = CameraApi()
        self.clips_api = ClipsApi()
        media = context.deployment.media
        self.ingest_processes = media.ingest_processes
        self.sub_idle_s = media.sub_stream_idle_s
        self.settings = IngestSettings(
            open_timeout_s=media.open_timeout_s,
            stall_timeout_s=media.stall_timeout_s,
            backoff_base_s=media.backoff_base_s,
            backoff_cap_s=media.backoff_cap_s,
            probe_interval_s=media.probe_interval_s,
            offline_after_s=media.offline_after_s,
            ring_seconds=media.preroll_s,
        )

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.api.routes():
            register(route)
        for route in self.clips_api.routes():
            register(route)

    @hookimpl
    async def bconnect_startup(self, services):
        registry = CameraRegistry(
            services.plugins, settings=self.settings, ingest_processes=self.ingest_processes, sub_idle_s=self.sub_idle_s
        )
        services.cameras = registry
        services.transcodes = TranscodeHub()  # fed by the cameras' streams, used by the viewing side
        services.clips = ClipWriter(registry, services.data_dir / "clips")
        self.clips_api.jobs = ClipJobs(services.clips)
        await self.clips_api.jobs.recover()  # cuts a dead process left pending
        await registry.start()

    @hookimpl
    async def bconnect_shutdown(self, services):
        if services.transcodes is not None:
            await services.transcodes.close()
        if services.cameras is not None:
            await services.cameras.stop()
        if self.clips_api.jobs is not None:  # after the cameras: their post-rolls have ended
            await self.clips_api.jobs.stop()
