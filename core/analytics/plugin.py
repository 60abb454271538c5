"""Analytics as a default core plugin: the frame hub and the runner of the plugins' analyzers.

Registered after the media and PTZ core plugins, so that the cameras and the
PTZ service exist when its ``bconnect_startup`` runs.
"""

from __future__ import annotations

from core.analytics.runner import AnalyticsRunner
from core.hookspecs import hookimpl
from core.analytics.closeups import CloseUps
from core.media.frame_decode import set_thread_policy
from core.media.frames import FrameHub


class AnalyticsPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        set_thread_policy(context.deployment.analytics.thread_policy)  # before any analysis thread starts

    @hookimpl
    def bconnect_startup(self, services):
        if services.cameras is None:
            return  # the media core did not start (reported against it): no cameras to analyse
        metrics = services.metrics
        hub = FrameHub(
            services.cameras,
            services.ptz,
            on_drop=lambda camera_id, n: metrics.analytics_frames_dropped.labels(camera=camera_id).inc(n),
            decode=services.deployment.analytics.decode,
        )
        services.frames = hub
        services.analytics = AnalyticsRunner(
            services.plugins, services.cameras, hub, metrics,
            zones=services.zones, services=services.public(), detector=services.deployment.analytics.detector,
            switch_interval_ms=services.deployment.analytics.switch_interval_ms,
            closeups=CloseUps.of(services.deployment.analytics),
        )
        services.analytics.start()

    @hookimpl
    async def bconnect_shutdown(self, services):
        if services.analytics is not None:
            await services.analytics.stop()
