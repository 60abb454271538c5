"""Detection and tracking, once per camera frame, shared by every analyzer of the camera that wants tracks.

One :class:`CameraTracking` per camera takes the frames of one frame-hub
subscription (at the highest rate its track-reading analyzers ask for). A
frame the hub flagged ``detect`` goes to the deployment's detector (its
``detect`` is awaited: it runs off the event loop and batches the frames of
all cameras waiting at the same moment); any other frame only advances the
tracker (``hold``). The same call carries the frame's close-ups, squares over the
zones where people are judged, enlarged (:mod:`core.analytics.closeups`). One tracker per view (:class:`~core.analytics.tracker.ViewTrackers`):
when ``frame.view`` changes (the PTZ camera moved) the camera's trackers reset,
and while it moves nothing is detected. Tracking runs in a worker thread.

Each analyzer then gets ``(frame, tracks, zones)`` through a :class:`Mailbox`
of one: a newer frame replaces one still waiting, the loss counted, never
queued. Detector latency, drops and errors are counted per camera
(``bconnect_detector_seconds``, ``bconnect_detector_frames_dropped_total``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analytics import closeups
from core.analytics.closeups import CloseUps
from core.analytics.detector import Detector, FramesDropped
from core.analytics.tracker import Track, ViewTrackers
from core.interfaces import Frame
from core.media.frames import FrameSubscription
from core.media.latest import Latest
from core.media.mux import SubscriptionClosed

log = logging.getLogger("bconnect.analytics")

REPORT_EVERY_S = 60.0


@dataclass(frozen=True)
class Sighting:
    """What the live overlay shows of a camera: the last frame's tracks, without the frame's pixels."""

    wall: float  # the frame's wall time, epoch seconds
    preset: str | None
    width: int
    height: int
    tracks: tuple[Track, ...]
    detect_ms: float | None  # the last detector call's latency

    def to_json(self, now: float) -> dict[str, Any]:
        """Boxes as fractions of the picture (x1, y1, x2, y2), so a viewer of any stream size can draw them."""
        w, h = max(self.width, 1), max(self.height, 1)
        return {
            "age_s": round(max(0.0, now - self.wall), 2),
            "preset": self.preset,
            "width": self.width,
            "height": self.height,
            "detect_ms": self.detect_ms,
            "tracks": [
                {
                    "id": t.id, "label": t.label, "score": round(t.score, 2), "state": t.state,
                    "box": [round(min(max(v / d, 0.0), 1.0), 4) for v, d in zip(t.box, (w, h, w, h), strict=True)],
                    "stationary_s": round(t.stationary_s, 1),
                }
                for t in self.tracks
            ],
        }


@dataclass(frozen=True)
class Seen:
    """One frame with what the core found in it, as analyzers get it."""

    frame: Frame
    tracks: tuple[Track, ...]
    zones: tuple[Any, ...]


class Mailbox(Latest[Seen]):
    """Holds at most one item; a newer one replaces it (counted as a drop). Put on the analytics loop, awaited
    there (an analyzer in a thread of its own) or on the server's loop (an ``async`` analyzer)."""

    def __init__(self, on_drop: Callable[[int], None] | None = None) -> None:
        super().__init__(1, on_drop, "mailbox")


def _pictures(image: np.ndarray, squares: list[closeups.Square]) -> list[np.ndarray]:
    """The frame as the detector contract wants it (the hub's BGR to RGB), then its close-ups: in the tracking thread."""
    rgb = np.ascontiguousarray(image[..., ::-1])
    return [rgb, *closeups.crops(rgb, squares)]


def _track(tracker, found, squares, width: int, height: int, t: float, settings: CloseUps) -> list[Track]:
    """The frame's detections with its close-ups' (merged in the tracking thread), into the tracker."""
    detections = closeups.merge(found[0], squares, found[1:], width, height, settings.labels) if squares else found[0]
    return tracker.update(detections, t, (width, height))


class CameraTracking:
    """One camera's detector calls and trackers; feeds the mailboxes of its track-reading analyzers."""

    def __init__(
        self,
        camera_id: str,
        subscription: FrameSubscription,
        detector: Detector | None,
        zones: Any,  # core.analytics.zone_store.ZoneStore, or None
        executor: concurrent.futures.ThreadPoolExecutor,
        metrics: Any = None,
        closeups: CloseUps | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.closeups = closeups or CloseUps()
        self.subscription = subscription
        self.detector = detector
        self.zones = zones
        self.executor = executor
        self.metrics = metrics
        self.on_error = on_error
        self.trackers = ViewTrackers()
        self.mailboxes: list[Mailbox] = []
        self.view: int | None = None
        self.frames = 0
        self.detected = 0
        self.dropped = 0  # by the detector (saturated)
        self.errors = 0
        self.last_error: str | None = None
        self.detect_s = 0.0
        self.detect_ms: float | None = None  # the last call's
        self.latest: Sighting | None = None  # for the live overlay
        self._last_report = -REPORT_EVERY_S
        self.task: asyncio.Task[None] | concurrent.futures.Future[None] | None = None

    def start(self) -> None:
        """On the running loop (the runner spawns :meth:`run` on the analytics loop instead)."""
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"tracking-{self.camera_id}")

    async def run(self) -> None:
        while True:
            try:
                frame = await self.subscription.get()
            except SubscriptionClosed:
                for box in self.mailboxes:
                    box.close()
                return
            zones = self._zones(frame)
            try:
                tracks = await self._tracks(frame, zones)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # contained: the analyzers get the frame without tracks
                self._failed(exc)
                tracks = ()
            self.frames += 1
            height, width = frame.image.shape[:2]
            self.latest = Sighting(frame.wall.timestamp(), frame.preset, width, height, tracks, self.detect_ms)
            seen = Seen(frame, tracks, zones)
            for box in self.mailboxes:
                box.put(seen)

    async def _tracks(self, frame: Frame, zones: tuple[Any, ...] = ()) -> tuple[Track, ...]:
        if self.view is not None and frame.view != self.view:
            self.trackers.camera_moved(self.camera_id)  # every box it knew is meaningless now
        self.view = frame.view
        if self.detector is None or frame.moving:
            return ()
        t = frame.pts_s if frame.pts_s is not None else frame.wall.timestamp()
        tracker = self.trackers.get(self.camera_id, frame.preset)
        loop = asyncio.get_running_loop()
        if not frame.detect:
            return tuple(await loop.run_in_executor(self.executor, tracker.hold, t))
        height, width = frame.image.shape[:2]
        squares = closeups.squares(self.detector, zones, width, height, self.closeups)  # a few boxes: cheap
        pictures = await loop.run_in_executor(self.executor, _pictures, frame.image, squares)
        started = time.perf_counter()
        try:
            found = await self.detector.detect(pictures)
        except FramesDropped:
            self.dropped += 1
            if self.metrics is not None:
                self.metrics.detector_frames_dropped.labels(camera=self.camera_id).inc()
            return tuple(await loop.run_in_executor(self.executor, tracker.hold, t))
        took = time.perf_counter() - started
        self.detected += 1
        self.detect_s += took
        self.detect_ms = round(1000 * took, 1)
        if self.metrics is not None:
            self.metrics.detector_seconds.labels(camera=self.camera_id).observe(took)
        return tuple(await loop.run_in_executor(self.executor, _track, tracker, found, squares, width, height, t, self.closeups))

    def _zones(self, frame: Frame) -> tuple[Any, ...]:
        if self.zones is None or frame.moving:
            return ()
        try:
            return tuple(self.zones.active(self.camera_id, frame.preset, frame.wall))
        except Exception as exc:
            self._failed(exc)
            return ()

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            if self.on_error is not None:
                self.on_error(exc)
            else:
                log.warning("camera %s: detection failed: %s", self.camera_id, self.last_error)

    def describe(self) -> dict[str, Any]:
        return {
            "detector": self.detector.name if self.detector is not None else None,
            "frames": self.frames,
            "detected": self.detected,
            "dropped": self.dropped,
            "errors": self.errors,
            "last_error": self.last_error,
            "ms_per_detection": round(1000 * self.detect_s / self.detected, 1) if self.detected else None,
        }

    def stop(self) -> None:
        self.subscription.close()
        for box in self.mailboxes:
            box.close()
        if self.task is not None:
            self.task.cancel()
