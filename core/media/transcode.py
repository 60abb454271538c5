"""H.265 to H.264, once per camera, for browsers that cannot decode H.265.

One :class:`Transcoder` per camera subscribes to the camera's multiplexer,
decodes and re-encodes in its own worker thread, and publishes the H.264
packets to a fan-out of its own (a second :class:`CameraMux`) that every
viewer of that camera reads. It starts with
the camera's first viewer and stops after its last (:class:`TranscodeHub`
counts them). Never one per viewer: that is the cost this module exists to avoid.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import logging
from collections.abc import Callable
from typing import Any

import av

from core.media.mux import CameraMux
from core.media.packets import MediaPacket, StreamInfo
from core.media.whep_sdp import profile_level_id_from_sps

log = logging.getLogger("bconnect.transcode")

OUT_TIME_BASE = fractions.Fraction(1, 90_000)
KEYFRAME_INTERVAL_S = 1.0  # short GOPs: the fan-out's GOP cache stays small
DEFAULT_FPS = 25.0
READY_TIMEOUT_S = 5.0


class FrameCoder:
    """Decode H.265, encode H.264; runs only in the transcoder's thread."""

    def __init__(self, fps: float | None, bit_rate: int) -> None:
        self.fps = fps or DEFAULT_FPS
        self.bit_rate = bit_rate
        self.decoder: Any = None
        self.encoder: Any = None
        self.generation: int | None = None
        self.size: tuple[int, int] | None = None

    def code(self, packet: MediaPacket) -> list[MediaPacket]:
        if packet.generation != self.generation or self.decoder is None:
            # a reconnect: the camera's decoder state is gone; start afresh
            self.decoder = av.CodecContext.create("hevc", "r")
            self.generation = packet.generation
        inp = av.Packet(packet.data)
        inp.pts = packet.pts
        inp.dts = packet.dts
        inp.time_base = packet.time_base
        out: list[MediaPacket] = []
        try:
            frames = self.decoder.decode(inp)
        except av.error.FFmpegError as exc:
            log.debug("hevc decode error: %s", exc)
            return out
        for frame in frames:
            out.extend(self._encode(frame, packet))
        return out

    def _encode(self, frame: av.VideoFrame, source: MediaPacket) -> list[MediaPacket]:
        if self.encoder is None or self.size != (frame.width, frame.height):
            self.encoder = self._new_encoder(frame.width, frame.height)
            self.size = (frame.width, frame.height)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        ts = source.pts if source.pts is not None else source.dts
        frame.pts = int(ts * source.time_base / OUT_TIME_BASE) if ts is not None else None
        frame.time_base = OUT_TIME_BASE
        frame.pict_type = av.video.frame.PictureType.NONE
        return [
            MediaPacket(
                data=bytes(p),
                pts=p.pts,
                dts=p.dts,
                time_base=OUT_TIME_BASE,
                keyframe=p.is_keyframe,
                arrival=source.arrival,
                generation=source.generation,
            )
            for p in self.encoder.encode(frame)
        ]

    def _new_encoder(self, width: int, height: int) -> Any:
        enc = av.CodecContext.create("libx264", "w")
        enc.width = width
        enc.height = height
        enc.pix_fmt = "yuv420p"
        enc.time_base = OUT_TIME_BASE
        enc.framerate = fractions.Fraction(self.fps).limit_denominator(1001)
        enc.bit_rate = self.bit_rate
        keyint = max(1, round(self.fps * KEYFRAME_INTERVAL_S))
        enc.gop_size = keyint
        enc.max_b_frames = 0
        # Constrained Baseline: every WebRTC browser decodes it (Firefox's
        # OpenH264 takes nothing else). SPS/PPS before every IDR so that any
        # viewer can start at any keyframe.
        enc.profile = "Constrained Baseline"
        enc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:repeat-headers=1",
        }
        enc.thread_count = 2
        return enc

    def close(self) -> None:
        self.decoder = None
        self.encoder = None


class Transcoder:
    """One camera's H.265 to H.264 conversion and the fan-out to its viewers."""

    def __init__(self, camera_id: str, mux: Any, *, bit_rate: int = 3_000_000) -> None:
        self.camera_id = camera_id
        self.mux = mux
        info = getattr(mux, "stream_info", None)
        self.coder = FrameCoder(getattr(info, "fps", None), bit_rate)
        # the camera's own multiplexer class, fed H.264: GOP cache and bounded viewers
        self.fanout = CameraMux(f"{camera_id}:h264", ring_seconds=0.0)
        self.profile_level_id: str | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"transcode-{camera_id}")
        self.frames_out = 0

    @property
    def stream_info(self) -> Any:
        return self.fanout.stream_info

    def subscribe(self, name: str, **kwargs: Any) -> Any:
        return self.fanout.subscribe(name, **kwargs)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"transcode-{self.camera_id}")

    async def ready(self, timeout: float = READY_TIMEOUT_S) -> str | None:
        """Wait for the first encoded keyframe; return its profile-level-id."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self.profile_level_id

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        subscription = self.mux.subscribe(f"transcode:{self.camera_id}", start="gop")
        log.info("transcoding camera %s from H.265 to H.264", self.camera_id)
        try:
            while True:
                packet = await subscription.get()
                try:
                    coded = await loop.run_in_executor(self._executor, self.coder.code, packet)
                except Exception as exc:  # contain a codec failure; the next keyframe retries
                    log.warning("transcoder of %s failed on a packet: %s", self.camera_id, exc)
                    self.coder.decoder = None
                    continue
                for out in coded:
                    if out.keyframe and not self._ready.is_set():
                        self._first_keyframe(out)
                    self.frames_out += 1
                    self.fanout.publish(out)
        finally:
            subscription.close()
            self.fanout.close()  # the camera went away: its viewers end too

    def _first_keyframe(self, packet: MediaPacket) -> None:
        self.profile_level_id = profile_level_id_from_sps(packet.data)
        width, height = self.coder.size or (0, 0)
        self.fanout.set_stream_info(StreamInfo(
            codec="h264",
            width=width,
            height=height,
            time_base=OUT_TIME_BASE,
            profile_level_id=self.profile_level_id,
            fps=self.coder.fps,
        ))
        self._ready.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.fanout.close()
        self._executor.submit(self.coder.close)
        self._executor.shutdown(wait=False)
        log.info("stopped transcoding camera %s", self.camera_id)


class TranscodeHub:
    """The running transcoders of one app, counted by viewers."""

    def __init__(self, on_change: Callable[[str, bool], None] | None = None) -> None:
        self.transcoders: dict[str, Transcoder] = {}
        self.users: dict[str, int] = {}
        self.on_change = on_change

    def acquire(self, camera_id: str, mux: Any) -> Transcoder:
        t = self.transcoders.get(camera_id)
        if t is None:
            t = self.transcoders[camera_id] = Transcoder(camera_id, mux)
            t.start()
            if self.on_change:
                self.on_change(camera_id, True)
        self.users[camera_id] = self.users.get(camera_id, 0) + 1
        return t

    async def release(self, camera_id: str) -> None:
        left = self.users.get(camera_id, 0) - 1
        if left > 0:
            self.users[camera_id] = left
            return
        self.users.pop(camera_id, None)
        t = self.transcoders.pop(camera_id, None)
        if t is not None:
            await t.stop()
            if self.on_change:
                self.on_change(camera_id, False)

    def active(self) -> list[str]:
        return sorted(self.transcoders)

    async def close(self) -> None:
        for camera_id in list(self.transcoders):
            self.users[camera_id] = 1
            await self.release(camera_id)
