"""The analytics runner: the plugins' analyzers, each fed its cameras' frames from the frame hub.

Analyzers come from the plugins' ``bconnect_register_analyzers`` (collected
here, in :meth:`AnalyticsRunner.start`, the one place that reads that hook).
Each (analyzer, camera) pair it wants gets a frame subscription of one frame
and a task that calls ``process`` with each frame, one at a time: a slow
analyzer drops frames (counted per camera), it never queues them. An
``async def process`` runs on the server's event loop, or on the analytics
loop when the analyzer says ``analytics_loop = True`` (it then reaches the
services through ``ctx.submit``); a plain one runs in a worker thread of the
analyzer's own, at a lower OS priority. Everything else per frame (pictures
handed over, detection, tracking, feeding threaded analyzers) runs on the
analytics loop, a second event loop in a thread of its own
(:mod:`core.analytics.loop_thread`), so that live viewers on the server's loop
never wait behind it. An analyzer that raises is
contained: reported against its plugin (logged with its name, counted, the
plugin degraded in health), counted here, and given the next frame as usual.

Detection and tracking run once per camera frame, shared by the camera's
analyzers (:mod:`core.analytics.tracking`), never per analyzer: an analyzer
that reads tracks (``needs_tracks``, default ``True``) is fed through its
camera's :class:`~core.analytics.tracking.CameraTracking`; one that says
``needs_tracks = False`` takes frames straight from the hub and never makes
the detector run. The detector is the one a plugin registered (the
deployment's ``[analytics] detector`` names it when several are); with none,
the analyzers that need tracks are reported once and get frames without tracks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from core.analytics.closeups import CloseUps
from core.analytics.detector import Detector, no_detector_reason
from core.analytics.loop_thread import LoopThread
from core.analytics.tracking import CameraTracking, Mailbox
from core.interfaces import Analyzer, AnalyzerContext, CameraInfo, Frame
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
    subscription: FrameSubscription | Mailbox
    task: asyncio.Task[None] | concurrent.futures.Future[None] | None = None
    processed: int = 0
    errors: int = 0
    last_error: str | None = None
    last_report: float = field(default=-REPORT_EVERY_S)


def _off_server_loop(analyzer: Analyzer) -> bool:
    """Whether the analyzer's frames are fed on the analytics loop: a threaded one (fed from there to its
    thread), or an ``async`` one that asks to run there (``analytics_loop = True``)."""
    return not inspect.iscoroutinefunction(analyzer.process) or bool(getattr(analyzer, "analytics_loop", False))


class AnalyticsRunner:
    """Subscribes every analyzer to its cameras and calls it with their frames."""

    def __init__(
        self,
        plugins: Any,
        cameras: Any,
        hub: FrameHub,
        metrics: Any = None,
        *,
        zones: Any = None,
        services: Any = None,
        detector: str | None = None,
        switch_interval_ms: float = 0.0,
        closeups: CloseUps | None = None,
    ) -> None:
        self.plugins = plugins  # core.plugin_host.PluginHost
        self.cameras = cameras  # core.media.registry.CameraRegistry
        self.hub = hub
        self.metrics = metrics
        self.zones = zones  # core.analytics.zone_store.ZoneStore
        self.services = services  # core.services.PluginServices, handed to analyzers in their context
        self.detector_name = detector  # which registered detector, when several
        self.detector: Detector | None = None
        self.detector_problem: str | None = None
        self.analyzers: list[tuple[str, Analyzer]] = []
        self.runs: list[_Run] = []
        self.tracking: dict[str, CameraTracking] = {}
        self._threads: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
        self._track_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._told_no_detector: set[int] = set()
        self.switch_interval_ms = switch_interval_ms  # while analyzers run; 0: Python's own
        self.closeups = closeups or CloseUps()  # none unless the deployment's settings say
        self._switch_before: float | None = None  # the interval to restore at stop
        self.loop_thread: LoopThread | None = None  # the analytics loop, from start() to stop()
        self._main: asyncio.AbstractEventLoop | None = None

    def choose_detector(self) -> None:
        """The detector of this deployment: the one named, else the only (or first) registered."""
        found = self.plugins.detectors()
        if self.detector_name:
            found = [(p, d) for p, d in found if self.detector_name in (p, d.name)]
            if not found:
                self.detector_problem = f"[analytics] detector = {self.detector_name!r}: no such detector registered"
        elif len(found) > 1:
            log.info("detectors %s registered: using %s ([analytics] detector chooses)",
                     ", ".join(d.name for _, d in found), found[0][1].name)
        if found:
            self.detector = found[0][1]
        elif self.detector_problem is None:
            self.detector_problem = no_detector_reason()

    def start(self) -> None:
        self._main = asyncio.get_running_loop()
        if self.loop_thread is None:
            self.loop_thread = LoopThread()
            self.hub.deliver_on(self.loop_thread.loop)
        self.choose_detector()
        for plugin, analyzer in self.plugins.collect(ANALYZER_HOOK):
            if not isinstance(analyzer, Analyzer):
                self._report(plugin, ANALYZER_HOOK, TypeError(f"not an analyzer: {analyzer!r}"))
                continue
            self.add(plugin, analyzer)
        log.info("%d analyzers on %d cameras", len(self.analyzers), len({r.camera.id for r in self.runs}))

    def add(self, plugin: str, analyzer: Analyzer) -> None:
        """Start ``analyzer`` on every camera it wants."""
        self.analyzers.append((plugin, analyzer))
        tracked = bool(getattr(analyzer, "needs_tracks", True))  # optional in the contract: default True
        if tracked and self.detector is None and id(analyzer) not in self._told_no_detector:
            self._told_no_detector.add(id(analyzer))
            log.warning("analyzer %s (plugin %s) reads tracks, but %s: it gets frames without tracks",
                        analyzer.name, plugin, self.detector_problem or "no detector")
        for runtime in self.cameras.all():
            try:
                if not analyzer.wants(runtime.info):
                    continue
                fps_for = getattr(analyzer, "fps_for", None)  # optional in the contract: one rate per camera
                fps = float(fps_for(runtime.info) if fps_for is not None else analyzer.fps)
                if not fps > 0:
                    raise ValueError(f"asks for {fps:g} frames a second")
                if tracked:
                    subscription = self._mailbox(runtime.id, fps)
                else:
                    subscription = self.hub.subscribe(runtime.id, f"{plugin}:{analyzer.name}", fps=fps)
            except Exception as exc:
                self._report(plugin, f"analyzer {analyzer.name} on camera {runtime.id}", exc)
                continue
            run = _Run(plugin, analyzer, runtime.info, subscription)
            run.task = self._spawn(self._feed(run), f"analyze-{analyzer.name}-{runtime.id}",
                                   analytics_loop=_off_server_loop(analyzer))
            self.runs.append(run)
            self._shorten_switch_interval()

    def _shorten_switch_interval(self) -> None:
        """While analyzers run, the loop waits less for the GIL behind their threads (restored at stop).

        A thread that wants the GIL waits up to the switch interval (5 ms) before
        asking its holder to let go; decode, tracking and analyzers hold it in
        bursts of Python, and each wait lands in a live viewer's packet delay.
        """
        if self.switch_interval_ms <= 0 or self._switch_before is not None:
            return
        self._switch_before = sys.getswitchinterval()
        sys.setswitchinterval(self.switch_interval_ms / 1000)
        log.info("switch interval %g ms while analyzers run (was %g ms)", self.switch_interval_ms, self._switch_before * 1000)

    def _mailbox(self, camera_id: str, fps: float) -> Mailbox:
        """A place in the camera's shared detection and tracking, started with the first analyzer."""
        stage = self.tracking.get(camera_id)
        if stage is None or (stage.task is not None and stage.task.done()):
            if self._track_thread is None:
                self._track_thread = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="tracking", initializer=lower_thread_priority
                )
            subscription = self.hub.subscribe(camera_id, "core:tracking", fps=fps)
            stage = self.tracking[camera_id] = CameraTracking(
                camera_id, subscription, self.detector, self.zones, self._track_thread, self.metrics, self.closeups,
                on_error=lambda exc, c=camera_id: self._report("analytics", f"detection on camera {c}", exc),
            )
            stage.task = self._spawn(stage.run(), f"tracking-{camera_id}", analytics_loop=True)
        elif fps > stage.subscription.fps:
            stage.subscription.fps = fps  # the hub decodes at the highest rate wanted
        on_drop = None
        if self.metrics is not None:
            counter = self.metrics.analytics_frames_dropped.labels(camera=camera_id)
            on_drop = counter.inc
        box = Mailbox(on_drop)
        stage.mailboxes.append(box)
        return box

    def _spawn(self, coro: Any, name: str, *, analytics_loop: bool) -> asyncio.Task[None] | concurrent.futures.Future[None]:
        if analytics_loop and self.loop_thread is not None:
            return self.loop_thread.spawn(coro, name)
        return asyncio.get_running_loop().create_task(coro, name=name)

    def _report(self, plugin: str, where: str, exc: BaseException) -> None:
        """A failure reported to the plugin host on the server's loop (its listeners live there), from either loop."""
        main = self._main
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if main is None or here is main or main.is_closed():
            self.plugins.report_failure(plugin, where, exc)
        else:
            main.call_soon_threadsafe(self.plugins.report_failure, plugin, where, exc)

    async def _feed(self, run: _Run) -> None:
        analyzer = run.analyzer
        base = AnalyzerContext(camera=run.camera, analyzer=analyzer.name, plugin=run.plugin, services=self.services,
                               server_loop=self._main)
        threaded = not inspect.iscoroutinefunction(analyzer.process)
        loop = asyncio.get_running_loop()
        while True:
            try:
                got = await run.subscription.get()
            except SubscriptionClosed:
                return
            if isinstance(got, Frame):
                frame, ctx = got, dataclasses.replace(base, zones=self._zones(got))
            else:
                frame, ctx = got.frame, dataclasses.replace(base, tracks=got.tracks, zones=got.zones)
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

    def _zones(self, frame: Frame) -> tuple[Any, ...]:
        if self.zones is None or frame.moving:
            return ()
        return tuple(self.zones.active(frame.camera_id, frame.preset, frame.wall))

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
            self._report(run.plugin, f"analyzer {run.analyzer.name} on camera {run.camera.id}", exc)
        else:
            log.debug("analyzer %s failed again on %s: %s", run.analyzer.name, run.camera.id, run.last_error)

    def camera_health(self, camera_id: str) -> dict[str, Any] | None:
        """Analytics of one camera for ``/api/health``: its decoder, and each analyzer's counts."""
        runs = [r for r in self.runs if r.camera.id == camera_id]
        if not runs:
            return None
        frames = self.hub.describe(camera_id) or {}
        stage = self.tracking.get(camera_id)
        detection = stage.describe() if stage is not None else None
        if detection is not None and self.detector is None:
            detection["problem"] = self.detector_problem
        return {
            "detection": detection,
            "fps": frames.get("fps", 0.0),
            "stream": frames.get("stream"),
            # the hub's (slow subscribers, a decoder behind) and those of the shared tracking's mailboxes
            "dropped": frames.get("dropped", 0) + (sum(b.dropped for b in stage.mailboxes) if stage is not None else 0),
            "undecodable": frames.get("undecodable", 0),
            **({"worker": frames["worker"]} if "worker" in frames else {}),  # decode = "process": the frame worker
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
        for stage in self.tracking.values():
            stage.stop()
        for run in self.runs:
            run.subscription.close()
            if run.task is not None:
                run.task.cancel()
        for run in self.runs:
            if isinstance(run.task, asyncio.Task):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run.task
        if self.loop_thread is not None:  # its tasks end (awaited there), then the loop and its thread
            await self.loop_thread.cancel_all()
            await asyncio.to_thread(self.loop_thread.close)
        for executor in self._threads.values():
            executor.shutdown(wait=False, cancel_futures=True)
        if self._track_thread is not None:
            self._track_thread.shutdown(wait=False, cancel_futures=True)
        self.hub.close()
        if self._switch_before is not None:
            sys.setswitchinterval(self._switch_before)
            self._switch_before = None
