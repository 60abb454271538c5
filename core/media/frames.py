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

The pictures go to the loop :meth:`FrameHub.deliver_on` names (the
analytics loop, :mod:`core.analytics.loop_thread`), else to the loop that
subscribed; decoders start and stop on the loop that subscribed. Subscribers
may await their frames on either loop (:class:`core.media.latest.Latest`).

With ``[analytics] decode = "process"`` the decoding and motion gating run
in a worker process of their own (:mod:`core.media.frame_process`): the
camera's thread here only forwards its packets there, and the pictures come
back through shared memory to the same subscriptions.

Motion gating: each picture is compared with the previous one, downscaled to
grey; ``frame.motion`` is the share of pixels that changed and
``frame.detect`` says whether it is worth a detector's time (motion, or
every ``force_every_s`` so that a parked car is still seen).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from core.interfaces import Frame
from core.media import wire
from core.media.frame_decode import FrameDecoder, FrameSettings, DecodedPicture, RateClock, lower_thread_priority
from core.media.frame_process import FrameProcess, RemoteDecoder
from core.media.frame_worker import K_SET, K_START, K_STOP
from core.media.handoff import LoopHandoff
from core.media.latest import Latest
from core.media.mux import SubscriptionClosed
from core.media.packet_reader import ThreadReader

log = logging.getLogger("bconnect.frames")

DEFAULT_FPS = 5.0
SOURCE_QUEUE = 64  # packets; behind by more, the mux skips this reader to the next keyframe
RATE_WINDOW_S = 5.0
PACE_S = 0.1  # a decode thread wakes at most this often (or twice a wanted frame interval, if shorter)

__all__ = ["CameraFrames", "FrameDecoder", "FrameHub", "FrameSettings", "FrameSubscription", "PresetSource"]


class PresetSource(Protocol):
    """The part of the PTZ service the hub reads (:class:`core.services.PtzArbiter` fits)."""

    def has(self, camera_id: str) -> bool: ...

    def preset_of(self, camera_id: str) -> str | None: ...

    def subscribe(self, listener: Callable[[Any], None], plugin: str = "core") -> Callable[[], None]: ...


class FrameSubscription:
    """One analyzer's bounded view of a camera's frames, at its own rate.

    Offered frames on the loop that delivers pictures (:meth:`FrameHub.deliver_on`), awaited on that loop or
    another (:class:`core.media.latest.Latest`); opened and closed on the loop that subscribed.
    """

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
        self._frames: Latest[Frame] = Latest(maxsize, source.count_drop, f"frames of {source.camera_id!r} for {name!r}")
        self._clock = RateClock()  # which stream times this subscriber's rate takes

    @property
    def dropped(self) -> int:
        return self._frames.dropped

    @property
    def closed(self) -> bool:
        return self._frames.closed

    def __repr__(self) -> str:
        return f"<FrameSubscription {self.name!r} on {self.source.camera_id!r} fps={self.fps:g} dropped={self.dropped}>"

    def _offer(self, frame: Frame, t: float) -> None:
        if not self._clock.due(t, self.fps):  # (stream time going back, a reconnect, starts the rate again)
            return  # not due at this subscriber's rate: not a drop
        self._frames.put(frame)

    async def get(self) -> Frame:
        """The next frame; raises :class:`core.media.mux.SubscriptionClosed` once closed."""
        frame = await self._frames.get()
        self.delivered += 1
        return frame

    def close(self) -> None:
        if self.closed:
            return
        self._frames.close()
        self.source.hub._release(self)


class CameraFrames:
    """One camera's decoder and its subscribers.

    The decode thread reads the camera's packets itself (:class:`ThreadReader`)
    and hands the loop only the pictures due (a few a second), batched with the
    other cameras' through the hub's :class:`LoopHandoff`.
    """

    def __init__(self, hub: FrameHub, camera_id: str, mux: Any, stream: str, process: FrameProcess | None = None) -> None:
        self.hub = hub
        self.camera_id = camera_id
        self.mux = mux
        self.stream = stream  # "sub" or "main"
        self.process = process  # decoding in the frame worker process; None: in a thread here
        self.decoder: Any = FrameDecoder(camera_id, hub.settings) if process is None else RemoteDecoder()
        self.slot = 0  # the camera's number in the worker's messages
        self.lost_in_gaps = 0  # due frames dropped while the worker was down or restarting
        self._handoff: LoopHandoff | None = None
        self.subs: list[FrameSubscription] = []
        self.frames = 0
        self.dropped = 0
        self.behind = 0  # of the decoder's, those the loop has heard of
        self.seq = 0
        self.ended = False
        self._times: collections.deque[float] = collections.deque()
        self._reader: ThreadReader | None = None
        self._thread: threading.Thread | None = None

    @property
    def fps_wanted(self) -> float:
        return max((s.fps for s in list(self.subs)), default=0.0)  # a copy: the decode thread reads it too

    def fps(self) -> float:
        """Frames handed out a second, over the last few seconds."""
        now = time.monotonic()
        while self._times and self._times[0] < now - RATE_WINDOW_S:
            self._times.popleft()
        return round(len(self._times) / RATE_WINDOW_S, 2)

    def count_drop(self, n: int = 1) -> None:
        self.dropped += n
        if self.hub.on_drop is not None:
            self.hub.on_drop(self.camera_id, n)

    def start(self) -> None:
        handoff = self.hub.handoff()
        try:
            reader = self.mux.subscribe(f"frames:{self.camera_id}", maxsize=SOURCE_QUEUE, start="gop", kind=ThreadReader)
        except SubscriptionClosed:
            log.info("camera %s: no frames, its stream is closed", self.camera_id)
            self.ended = True
            return
        self._reader = reader
        self._handoff = handoff
        where = "in the frame worker process" if self.process is not None else "in a thread"
        log.info("camera %s: decoding its %s stream for analytics %s", self.camera_id, self.stream, where)
        if self.process is not None:
            self.slot = self.process.attach(self)
        self._thread = threading.Thread(
            target=self._decode_loop if self.process is None else self._feed_loop,
            args=(reader, handoff), name=f"frames-{self.camera_id}", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def _decode_loop(self, reader: ThreadReader, handoff: LoopHandoff) -> None:
        """The decode thread: packets in, due pictures out to the loop; never touches the loop's objects."""
        lower_thread_priority()
        lost = skipped = 0
        while True:
            try:
                batch = reader.take(timeout=1.0)
            except SubscriptionClosed:
                self.hub.call_control(self._stream_ended)
                return
            # a whole queue behind (starved of CPU), the reader skipped to the next keyframe: those frames are lost
            lost += reader.dropped - skipped
            skipped = reader.dropped
            if not batch:
                continue
            info = self.mux.stream_info
            codec = info.codec if info is not None else "h264"
            fps = self.fps_wanted or DEFAULT_FPS
            behind = self.decoder.behind
            try:
                decoded = self.decoder.decode(batch, codec, fps)
            except Exception as exc:  # a codec that cannot open: contained, retried at the next packets
                log.warning("camera %s: frame decoder failed: %s", self.camera_id, exc)
                self.decoder.ctx = None
                continue
            lost += self.decoder.behind - behind  # the decoder itself fell behind: those frames are lost too
            if decoded or lost:
                if handoff.post(self._deliver, (decoded, lost)):
                    lost = 0
                else:  # the loop is far behind: counted with the next pictures that reach it
                    lost += len(decoded)
            # let packets gather for a while: fewer wake-ups (and GIL hand-offs) for the same pictures
            time.sleep(min(PACE_S, 0.5 / fps))

    def _feed_loop(self, reader: ThreadReader, handoff: LoopHandoff) -> None:
        """The feed thread (decoding in the worker): packets in, forwarded to the worker; never touches the loop's objects."""
        assert self.process is not None
        process, slot = self.process, self.slot
        lost = skipped = 0
        sent: tuple[Any, ...] | None = None  # (generation, codec, fps, time base) the worker was last told
        gap = RateClock()
        while True:
            try:
                batch = reader.take(timeout=1.0)
            except SubscriptionClosed:
                process.send([wire.frame(K_STOP, slot)], process.generation)
                process.detach(slot)
                self.hub.call_control(self._stream_ended)
                return
            lost += reader.dropped - skipped
            skipped = reader.dropped
            if batch:
                info = self.mux.stream_info
                codec = info.codec if info is not None else "h264"
                fps = self.fps_wanted or DEFAULT_FPS
                tb = batch[0].time_base
                generation = process.generation
                buffers: list[bytes] = []
                if sent is None or sent[0] != generation:
                    buffers.append(wire.frame_obj(K_START, slot, (self.camera_id, self.hub.settings)))
                if sent is None or sent != (generation, codec, fps, tb):
                    buffers.append(wire.frame_obj(K_SET, slot, (codec, fps, tb.numerator, tb.denominator)))
                for packet in batch:
                    buffers += (wire.packet_header(slot, packet), packet.data)
                if process.send(buffers, generation):
                    sent = (generation, codec, fps, tb)
                else:  # the worker is down or restarting: the frames due meanwhile are lost, and counted
                    sent = None
                    gaps = sum(1 for p in batch if gap.due(p.pts * float(p.time_base) if p.pts is not None else p.arrival, fps))
                    lost += gaps
                    self.lost_in_gaps += gaps
            if lost and handoff.post(self._deliver, ([], lost)):
                lost = 0
            time.sleep(min(PACE_S, 0.5 / (self.fps_wanted or DEFAULT_FPS)))

    def remote_picture(self, meta: dict[str, Any], image: Any) -> None:
        """From the frame worker's supervisor thread: one picture (``None``: overwritten before it was read)."""
        assert self._handoff is not None
        lost = self.decoder.update(meta, self.process)
        decoded: list[DecodedPicture] = []
        if image is None:
            lost += 1
        else:
            decoded.append(DecodedPicture(meta["pts_s"], meta["t"], meta["wall"], image, meta["motion"], meta["detect"], meta["forced"]))
        if not self._handoff.post(self._deliver, (decoded, lost)):
            self.decoder.unposted += lost + len(decoded)  # counted with the next pictures that reach the loop

    def _deliver(self, item: tuple[list[DecodedPicture], int]) -> None:
        decoded, lost = item
        if lost:
            self.behind += lost
            self.count_drop(lost)
        if self.ended:
            return
        for d in decoded:
            self._publish(d)

    def _stream_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        log.info("camera %s: frames end, its stream closed", self.camera_id)
        for sub in list(self.subs):  # its analyzers end with it, as a transcoder's viewers do
            sub.close()

    def _publish(self, d: DecodedPicture) -> None:
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
            "dropped": self.dropped,  # by slow subscribers, and "behind" (a decoder that fell behind)
            "behind": self.behind,  # frames passed over catching up, or skipped by a reader a whole queue behind
            "undecodable": self.decoder.undecodable,
            "resolution_changes": self.decoder.resolution_changes,
            "subscribers": [s.name for s in self.subs],
        } | ({"worker": self.process.describe() | {"lost_in_gaps": self.lost_in_gaps}} if self.process is not None else {})

    def stop(self) -> None:
        self.ended = True
        if self.process is not None:
            self.process.detach(self.slot, self.decoder.segment)
        if self._reader is not None:
            self._reader.close()  # the decode thread wakes, sees it closed and ends
        log.info("camera %s: analytics decoding stopped (%d frames)", self.camera_id, self.frames)


class FrameHub:
    """The running decoders of one app, keyed by camera, started and stopped by their subscribers.

    ``cameras`` is the camera registry (:class:`core.media.registry.CameraRegistry`);
    ``ptz`` tells the preset of the moment; ``on_drop(camera_id, n)`` hears of each loss of ``n`` frames;
    ``decode`` is ``"thread"`` (a decode thread per camera here) or ``"process"`` (the frame worker process,
    started with the first camera and kept until :meth:`close`).
    """

    def __init__(
        self,
        cameras: Any,
        ptz: PresetSource | None = None,
        *,
        settings: FrameSettings | None = None,
        on_drop: Callable[[str, int], None] | None = None,
        decode: str = "thread",
    ) -> None:
        if decode not in ("thread", "process"):
            raise ValueError(f"decode must be 'thread' or 'process', not {decode!r}")
        self.decode = decode
        self.process: FrameProcess | None = None
        self.cameras = cameras
        self.ptz = ptz
        self.settings = settings or FrameSettings()
        self.on_drop = on_drop
        self.sources: dict[str, CameraFrames] = {}
        self._handoff: LoopHandoff | None = None
        self._deliver_loop: asyncio.AbstractEventLoop | None = None  # where pictures go; None: the subscribers' loop
        self._control_loop: asyncio.AbstractEventLoop | None = None  # where decoders start and stop
        self._views: dict[str, tuple[int, float]] = {}  # camera -> (preset changes, monotonic of the last)
        self._unlisten = ptz.subscribe(self._preset_changed) if ptz is not None else None

    def _preset_changed(self, event: Any) -> None:
        count, _ = self._views.get(event.camera_id, (0, 0.0))
        self._views[event.camera_id] = (count + 1, time.monotonic())

    def deliver_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Hand pictures to ``loop`` (the analytics loop), not to the loop that subscribes: their subscribers'
        queues (:class:`core.media.latest.Latest`) may be awaited on either. Before the first subscription."""
        self._deliver_loop = loop

    def call_control(self, func: Callable[[], None]) -> bool:
        """From a decode thread: ``func()`` on the loop that starts and stops decoders (a stream that ended)."""
        loop = self._control_loop
        try:
            if loop is None:
                raise RuntimeError("no loop")
            loop.call_soon_threadsafe(func)
        except RuntimeError:  # the loop is closed: the app is stopping
            log.info("frames end: the server is stopping")
            return False
        return True

    def handoff(self) -> LoopHandoff:
        """The decode threads' way to the loop: one for all cameras, so that a busy loop wakes once for many pictures."""
        loop = self._deliver_loop or asyncio.get_running_loop()
        if self._handoff is None or self._handoff.loop is not loop or self._handoff.closed:
            self._handoff = LoopHandoff(loop)
        return self._handoff

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
        self._control_loop = asyncio.get_running_loop()
        source = self.sources.get(camera_id)
        if source is None or source.ended:
            runtime = self.cameras.get(camera_id)
            if runtime is None:
                raise LookupError(f"no camera {camera_id!r}")
            if runtime.info.sub is not None:
                mux, stream = self.cameras.open_sub(camera_id).mux, "sub"
            else:
                mux, stream = runtime.mux, "main"
            if self.decode == "process" and self.process is None:
                self.process = FrameProcess()
                self.process.start()  # spawned by its own thread: the loop never waits for it
            source = self.sources[camera_id] = CameraFrames(self, camera_id, mux, stream, self.process)
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
        if self.process is not None:
            self.process.close()
            self.process = None
