"""The analytics runner: the plugins' analyzers, each fed its cameras' frames from the frame hub.

Analyzers come from the plugins' ``bconnect_register_analyzers`` (collected
here, in :meth:`AnalyticsRunner.start`, the one place that reads that hook).
Each (analyzer, camera) pair it wants gets a frame subscription of one frame
and a task that calls ``process`` with each frame, one at a time: a slow
analyzer drops frames (counted per camera), it never queues them. An
``async def process`` runs on the event loop; a plain one in a worker thread
of the analyzer's own, at a lower OS priority. An analyzer that raises is
contained: reported against its plugin (logged with its name, counted, the
plugin degraded in health), counted here, and given the next frame as usual.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from core.interfaces import Analyzer, AnalyzerContext, CameraInfo
from core.media.frame_decode import lower_thread_priority
from core.media.frames import FrameHub, FrameSubscription
from core.media.mux import SubscriptionClosed

log = logging.getLogger("bconnect.analytics")

ANALYZER_HOOK = "bconnect_register_analyzers"
REPORT_EVERY_S = 60.0  # a failing analyzer is reported at most this often (counted every time)


@dataclass(eq=False)
class _Run:
    plugin: str
    analyzer: Analyzer
    camera: CameraInfo
    subscription: FrameSubscription
    task: asyncio.Task[None] | None = None
    processed: int = 0
    errors: int = 0
    last_error: str | None = None
    last_report: float = field(default=-REPORT_EVERY_S)


class AnalyticsRunner:
    """Subscribes every analyzer to its cameras and calls it with their frames."""

    def __init__(self, plugins: Any, cameras: Any, hub: FrameHub, metrics: Any = None) -> None:
        self.plugins = plugins  # core.plugin_host.PluginHost
        self.cameras = cameras  # core.media.registry.CameraRegistry
        self.hub = hub
        self.metrics = metrics
        self.analyzers: list[tuple[str, Analyzer]] = []
        self.runs: list[_Run] = []
        self._threads: dict[int, concurrent.futures.ThreadPoolExecutor] = {}

    def start(self) -> None:
        for plugin, analyzer in self.plugins.collect(ANALYZER_HOOK):
            if not isinstance(analyzer, Analyzer):
                self.plugins.report_failure(plugin, ANALYZER_HOOK, TypeError(f"not an analyzer: {analyzer!r}"))
                continue
            self.add(plugin, analyzer)
        log.info("%d analyzers on %d cameras", len(self.analyzers), len({r.camera.id for r in self.runs}))

    def add(self, plugin: str, analyzer: Analyzer) -> None:
        """Start ``analyzer`` on every camera it wants."""
        self.analyzers.append((plugin, analyzer))
        for runtime in self.cameras.all():
            try:
                if not analyzer.wants(runtime.info):
                    continue
                subscription = self.hub.subscribe(runtime.id, f"{plugin}:{analyzer.name}", fps=float(analyzer.fps))
            except Exception as exc:
                self.plugins.report_failure(plugin, f"analyzer {analyzer.name} on camera {runtime.id}", exc)
                continue
            run = _Run(plugin, analyzer, runtime.info, subscription)
            run.task = asyncio.get_running_loop().create_task(self._feed(run), name=f"analyze-{analyzer.name}-{runtime.id}")
            self.runs.append(run)

    async def _feed(self, run: _Run) -> None:
        analyzer = run.analyzer
        ctx = AnalyzerContext(camera=run.camera, analyzer=analyzer.name, plugin=run.plugin)
        threaded = not inspect.iscoroutinefunction(analyzer.process)
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await run.subscription.get()
            except SubscriptionClosed:
                return
            try:
                if threaded:
                    await loop.run_in_executor(self._thread_of(analyzer), analyzer.process, frame, ctx)
                else:
                    await analyzer.process(frame, ctx)
                run.processed += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(run, exc)

    def _thread_of(self, analyzer: Analyzer) -> concurrent.futures.ThreadPoolExecutor:
        executor = self._threads.get(id(analyzer))
        if executor is None:
            executor = self._threads[id(analyzer)] = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix=f"analyzer-{analyzer.name}", initializer=lower_thread_priority
            )
        return executor

    def _failed(self, run: _Run, exc: Exception) -> None:
        run.errors += 1
        run.last_error = f"{type(exc).__name__}: {exc}"
        if self.metrics is not None:
            self.metrics.analyzer_errors.labels(analyzer=run.analyzer.name, camera=run.camera.id).inc()
        now = time.monotonic()
        if now - run.last_report >= REPORT_EVERY_S:
            run.last_report = now
            self.plugins.report_failure(run.plugin, f"analyzer {run.analyzer.name} on camera {run.camera.id}", exc)
        else:
            log.debug("analyzer %s failed again on %s: %s", run.analyzer.name, run.camera.id, run.last_error)

    def camera_health(self, camera_id: str) -> dict[str, Any] | None:
        """Analytics of one camera for ``/api/health``: its decoder, and each analyzer's counts."""
        runs = [r for r in self.runs if r.camera.id == camera_id]
        if not runs:
            return None
        frames = self.hub.describe(camera_id) or {}
        return {
            "fps": frames.get("fps", 0.0),
            "stream": frames.get("stream"),
            "dropped": frames.get("dropped", 0),
            "undecodable": frames.get("undecodable", 0),
            "analyzers": {
                r.analyzer.name: {
                    "status": "degraded" if r.errors else "ok",
                    "processed": r.processed,
                    "dropped": r.subscription.dropped,
                    "errors": r.errors,
                    "last_error": r.last_error,
                }
                for r in runs
            },
        }

    async def stop(self) -> None:
        for run in self.runs:
            run.subscription.close()
            if run.task is not None:
                run.task.cancel()
        for run in self.runs:
            if run.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run.task
        for executor in self._threads.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self.hub.close()
