"""The frame hub: each camera decoded once, only while an analyzer wants its frames.

On the pattern of the transcode hub (:mod:`core.media.transcode`): one
:class:`CameraFrames` per camera subscribes to the camera's packets, decodes
them in a worker thread of its own (PyAV, at a lower OS priority than ingest
and WebRTC) and hands each :class:`core.interfaces.Frame` to every
:class:`FrameSubscription` of that camera: one decode, many analyzers. It
starts with the first subscriber and stops after the last. The picture comes
from the camera's sub stream when it has one (opened on demand, as a grid
tile's is), else from the main stream's multiplexer that live view already
reads: never a second pull of the main stream.

Live view first: a subscription holds at most ``maxsize`` frames (1 or 2);
a new frame pushes out the oldest, and the loss is counted per camera
(``bconnect_analytics_frames_dropped_total``), never queued. Only the frames
the fastest subscriber's rate needs are converted to pictures; the others are
decoded for their references only (non-reference frames are skipped).

Motion gating: each picture is compared with the previous one, downscaled to
grey; ``frame.motion`` is the share of pixels that changed and
``frame.detect`` says whether it is worth a detector's time (motion, or
every ``force_every_s`` so that a parked car is still seen).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import datetime
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import av
import numpy as np

from core.interfaces import Frame
from core.media.mux import SubscriptionClosed

log = logging.getLogger("bconnect.frames")

DEFAULT_FPS = 5.0
SOURCE_QUEUE = 64  # packets; behind by more, the mux skips this reader to the next keyframe
FRAME_NICE = 10  # added to the decode thread's niceness: ingest and WebRTC come first
MOTION_WIDTH = 64  # the grey thumbnail motion is measured on
RATE_WINDOW_S = 5.0


@dataclass(frozen=True)
class FrameSettings:
    motion_pixel_delta: int = 12  # grey levels (of 255) a thumbnail pixel must change by to count as motion
    motion_threshold: float = 0.003  # share of changed pixels from which a frame is worth detecting on
    force_every_s: float = 10.0  # a frame to detect on at least this often, motion or not
    settle_s: float = 2.0  # after a preset change, frames carry no preset this long (the camera still travels)


class PresetSource(Protocol):
    """The part of the PTZ service the hub reads (:class:`core.services.PtzArbiter` fits)."""

    def has(self, camera_id: str) -> bool: ...

    def preset_of(self, camera_id: str) -> str | None: ...

    def subscribe(self, listener: Callable[[Any], None], plugin: str = "core") -> Callable[[], None]: ...


class FrameSubscription:
    """One analyzer's bounded view of a camera's frames, at its own rate."""

    def __init__(self, source: CameraFrames, name: str, fps: float, maxsize: int) -> None:
        if not 1 <= maxsize <= 2:
            raise ValueError("a frame subscription holds 1 or 2 frames")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, not {fps!r}")
        self.source = source
        self.name = name
        self.fps = fps
        self.maxsize = maxsize
        self.delivered = 0
        self.dropped = 0
        self.closed = False
        self._queue: collections.deque[Frame] = collections.deque()
        self._due: float | None = None  # stream time of the next frame this rate takes
        self._last: float | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<FrameSubscription {self.name!r} on {self.source.camera_id!r} fps={self.fps:g} dropped={self.dropped}>"

    def _offer(self, frame: Frame, t: float) -> None:
        if self._last is not None and t < self._last:
            self._due = None  # a reconnect: stream time starts again
        self._last = t
        if self._due is not None and t < self._due - 0.01:
            return  # not due at this subscriber's rate: not a drop
        step = 1.0 / self.fps
        self._due = self._due + step if self._due is not None and t - self._due < step else t + step
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
            self.source.count_drop()
        self._queue.append(frame)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Frame:
        """The next frame; raises :class:`core.media.mux.SubscriptionClosed` once closed."""
        while not self._queue:
            if self.closed:
                raise SubscriptionClosed(f"frames of {self.source.camera_id!r} for {self.name!r} closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.delivered += 1
        return self._queue.popleft()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self.source.hub._release(self)


@dataclass(frozen=True)
class _Decoded:
    pts_s: float | None
    t: float  # stream time, or arrival when the packet had none
    wall: datetime.datetime
    image: np.ndarray
    motion: float
    detect: bool
    forced: bool


class FrameDecoder:
    """Packets in, the pictures a rate needs out; runs only in its camera's decode thread."""

    def __init__(self, camera_id: str, settings: FrameSettings) -> None:
        self.camera_id = camera_id
        self.settings = settings
        self.ctx: Any = None
        self.key: tuple[str, int] | None = None  # (codec, generation) the decoder was opened for
        self.size: tuple[int, int] | None = None
        self.decoded = 0
        self.undecodable = 0
        self.resolution_changes = 0
        self.behind = 0  # due frames passed over because newer ones were already decoded
        self._due: float | None = None
        self._last_t: float | None = None
        self._thumb: np.ndarray | None = None
        self._last_detect: float | None = None

    def decode(self, packets: list[Any], codec: str, fps: float) -> list[_Decoded]:
        """Decode a batch; of the frames due at ``fps`` only the newest becomes a picture (live first)."""
        due: list[tuple[Any, Any, float]] = []
        for packet in packets:
            if self.ctx is None or self.key != (codec, packet.generation):
                self.ctx = av.CodecContext.create(codec, "r")
                self.ctx.thread_count = 1
                self.key = (codec, packet.generation)
                self._due = self._last_t = None
            pkt = av.Packet(packet.data)
            pkt.pts, pkt.dts, pkt.time_base = packet.pts, packet.dts, packet.time_base
            try:
                frames = self.ctx.decode(pkt)
            except (av.error.FFmpegError, ValueError) as exc:
                self.undecodable += 1
                (log.warning if self.undecodable == 1 else log.debug)(
                    "camera %s: undecodable packet (%s); counted, skipped", self.camera_id, exc
                )
                continue
            if frames and self.ctx.skip_frame != "NONREF":
                # once it decodes: skip the frames nothing refers to (B-frames); before, that would hide errors
                self.ctx.skip_frame = "NONREF"
            for frame in frames:
                self.decoded += 1
                pts_s = float(frame.pts * packet.time_base) if frame.pts is not None else None
                t = pts_s if pts_s is not None else packet.arrival
                if self._is_due(t, fps):
                    due.append((frame, packet, t))
        if not due:
            return []
        self.behind += len(due) - 1  # a backlog (the cached GOP at start, a busy machine): only the newest counts
        return [self._picture(*due[-1])]

    def _is_due(self, t: float, fps: float) -> bool:
        if self._last_t is not None and t < self._last_t:
            self._due = None  # stream time went back: start the rate again
        self._last_t = t
        if self._due is not None and t < self._due - 0.01:
            return False
        step = 1.0 / fps
        self._due = self._due + step if self._due is not None and t - self._due < step else t + step
        return True

    def _picture(self, frame: Any, packet: Any, t: float) -> _Decoded:
        pts_s = float(frame.pts * packet.time_base) if frame.pts is not None else None
        size = (frame.width, frame.height)
        if self.size is not None and size != self.size:
            self.resolution_changes += 1
            (log.warning if self.resolution_changes == 1 else log.debug)(
                "camera %s: resolution changed from %dx%d to %dx%d", self.camera_id, *self.size, *size
            )
            self._thumb = None  # the motion reference no longer fits
        self.size = size
        image = frame.to_ndarray(format="bgr24")
        image.flags.writeable = False
        motion, detect, forced = self._motion(frame, t)
        wall = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=time.monotonic() - packet.arrival)
        return _Decoded(pts_s, t, wall, image, motion, detect, forced)

    def _motion(self, frame: Any, t: float) -> tuple[float, bool, bool]:
        height = max(2, round(frame.height * MOTION_WIDTH / frame.width))
        thumb = frame.reformat(width=MOTION_WIDTH, height=height, format="gray").to_ndarray().astype(np.int16)
        previous, self._thumb = self._thumb, thumb
        motion = 1.0 if previous is None else float(np.mean(np.abs(thumb - previous) > self.settings.motion_pixel_delta))
        forced = self._last_detect is None or t - self._last_detect >= self.settings.force_every_s or t < self._last_detect
        detect = forced or motion >= self.settings.motion_threshold
        forced = forced and motion < self.settings.motion_threshold
        if detect:
            self._last_detect = t
        return motion, detect, forced


def lower_thread_priority() -> None:
    # os.nice() would lower the whole process on Linux; setpriority on the thread id lowers this thread only
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + FRAME_NICE)
    except (OSError, AttributeError):
        pass


class CameraFrames:
    """One camera's decoder and its subscribers."""

    def __init__(self, hub: FrameHub, camera_id: str, mux: Any, stream: str) -> None:
        self.hub = hub
        self.camera_id = camera_id
        self.mux = mux
        self.stream = stream  # "sub" or "main"
        self.decoder = FrameDecoder(camera_id, hub.settings)
        self.subs: list[FrameSubscription] = []
        self.frames = 0
        self.dropped = 0
        self.seq = 0
        self._times: collections.deque[float] = collections.deque()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"frames-{camera_id}", initializer=lower_thread_priority
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def fps_wanted(self) -> float:
        return max((s.fps for s in self.subs), default=0.0)

    def fps(self) -> float:
        """Frames handed out a second, over the last few seconds."""
        now = time.monotonic()
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()
        return round(len(self._times) / RATE_WINDOW_S, 2)

    def count_drop(self) -> None:
        self.dropped += 1
        if self.hub.on_drop is not None:
            self.hub.on_drop(self.camera_id)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"frames-{self.camera_id}")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            packets = self.mux.subscribe(f"frames:{self.camera_id}", maxsize=SOURCE_QUEUE, start="gop")
        except SubscriptionClosed:
            log.info("camera %s: no frames, its stream is closed", self.camera_id)
            return
        log.info("camera %s: decoding its %s stream for analytics", self.camera_id, self.stream)
        try:
            while True:
                try:
                    batch = [await packets.get()]
                    while (more := packets.get_nowait()) is not None:
                        batch.append(more)
                except SubscriptionClosed:
                    log.info("camera %s: frames end, its stream closed", self.camera_id)
                    for sub in list(self.subs):  # its analyzers end with it, as a transcoder's viewers do
                        sub.close()
                    return
                info = self.mux.stream_info
                codec = info.codec if info is not None else "h264"
                fps = self.fps_wanted or DEFAULT_FPS
                try:
                    decoded = await loop.run_in_executor(self._executor, self.decoder.decode, batch, codec, fps)
                except Exception as exc:  # a codec that cannot open: contained, retried at the next packets
                    log.warning("camera %s: frame decoder failed: %s", self.camera_id, exc)
                    self.decoder.ctx = None
                    continue
                for d in decoded:
                    self._publish(d)
        finally:
            packets.close()

    def _publish(self, d: _Decoded) -> None:
        preset, view = self.hub.preset(self.camera_id)
        height, width = d.image.shape[:2]
        self.seq += 1
        frame = Frame(
            camera_id=self.camera_id, preset=preset, ptz=self.hub.is_ptz(self.camera_id), view=view,
            pts_s=d.pts_s, wall=d.wall, width=width, height=height, image=d.image,
            motion=d.motion, detect=d.detect, forced=d.forced, seq=self.seq,
        )
        self.frames += 1
        self._times.append(time.monotonic())
        for sub in list(self.subs):
            sub._offer(frame, d.t)

    def describe(self) -> dict[str, Any]:
        size = self.decoder.size
        return {
            "stream": self.stream,
            "fps": self.fps(),
            "fps_wanted": self.fps_wanted,
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "frames": self.frames,
            "decoded": self.decoder.decoded,
            "dropped": self.dropped,
            "behind": self.decoder.behind,
            "undecodable": self.decoder.undecodable,
            "resolution_changes": self.decoder.resolution_changes,
            "subscribers": [s.name for s in self.subs],
        }

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("camera %s: analytics decoding stopped (%d frames)", self.camera_id, self.frames)


class FrameHub:
    """The running decoders of one app, keyed by camera, started and stopped by their subscribers.

    ``cameras`` is the camera registry (:class:`core.media.registry.CameraRegistry`);
    ``ptz`` tells the preset of the moment; ``on_drop(camera_id)`` hears each dropped frame.
    """

    def __init__(
        self,
        cameras: Any,
        ptz: PresetSource | None = None,
        *,
        settings: FrameSettings | None = None,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self.cameras = cameras
        self.ptz = ptz
        self.settings = settings or FrameSettings()
        self.on_drop = on_drop
        self.sources: dict[str, CameraFrames] = {}
        self._views: dict[str, tuple[int, float]] = {}  # camera -> (preset changes, monotonic of the last)
        self._unlisten = ptz.subscribe(self._preset_changed) if ptz is not None else None

    def _preset_changed(self, event: Any) -> None:
        count, _ = self._views.get(event.camera_id, (0, 0.0))
        self._views[event.camera_id] = (count + 1, time.monotonic())

    def is_ptz(self, camera_id: str) -> bool:
        return self.ptz is not None and self.ptz.has(camera_id)

    def preset(self, camera_id: str) -> tuple[str | None, int]:
        """The preset of the moment (``None`` while settling after a change) and the view number."""
        view, changed = self._views.get(camera_id, (0, None))
        if self.ptz is None or (changed is not None and time.monotonic() - changed < self.settings.settle_s):
            return None, view
        return self.ptz.preset_of(camera_id), view

    def subscribe(self, camera_id: str, name: str, *, fps: float = DEFAULT_FPS, maxsize: int = 1) -> FrameSubscription:
        """Frames of ``camera_id`` at ``fps``; its decoder starts now if it is not running.

        :raises LookupError: no such camera.
        """
        source = self.sources.get(camera_id)
        if source is None or (source._task is not None and source._task.done()):
            runtime = self.cameras.get(camera_id)
            if runtime is None:
                raise LookupError(f"no camera {camera_id!r}")
            if runtime.info.sub is not None:
                mux, stream = self.cameras.open_sub(camera_id).mux, "sub"
            else:
                mux, stream = runtime.mux, "main"
            source = self.sources[camera_id] = CameraFrames(self, camera_id, mux, stream)
            source.start()
        sub = FrameSubscription(source, name, fps, maxsize)
        source.subs.append(sub)
        return sub

    def _release(self, sub: FrameSubscription) -> None:
        source = sub.source
        if sub in source.subs:
            source.subs.remove(sub)
        if not source.subs and self.sources.get(source.camera_id) is source:
            del self.sources[source.camera_id]
            source.stop()

    def running(self, camera_id: str) -> bool:
        return camera_id in self.sources

    def describe(self, camera_id: str) -> dict[str, Any] | None:
        source = self.sources.get(camera_id)
        return source.describe() if source is not None else None

    def close(self) -> None:
        for source in list(self.sources.values()):
            for sub in list(source.subs):
                sub.close()
        if self._unlisten is not None:
            self._unlisten()
