"""Shared transcoders, for browsers that cannot take what a camera sends.

Two cases, each a *target* codec:

* ``"h264"``: an H.265 camera, for browsers that decode H.264 but not H.265.
* ``"vp8"``: any camera (H.264 or H.265), for a browser without H.264 at all;
  a stock Firefox that could not download Cisco's OpenH264 plugin offers
  only VP8, VP9 and AV1. VP8 is scaled down to at most ``VP8_MAX_WIDTH``
  wide, so that its CPU cost stays bounded whatever the camera's size.

One :class:`Transcoder` per camera stream and target subscribes to the
stream's multiplexer, decodes and re-encodes in its own worker thread, and
publishes to a fan-out of its own (a second :class:`CameraMux`) that every
viewer of that stream and codec reads. It starts with the first such viewer
and stops after the last (:class:`TranscodeHub` counts them). Never one per
viewer: that is the cost this module exists to avoid.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from typing import Any

import av

from core.media.mux import CameraMux, SubscriptionClosed
from core.media.packets import MediaPacket, StreamInfo
from core.media.whep_sdp import profile_level_id_from_sps

log = logging.getLogger("bconnect.transcode")

TARGETS = ("h264", "vp8")
CODEC_NAMES = {"h264": "H.264", "hevc": "H.265", "vp8": "VP8"}
OUT_TIME_BASE = fractions.Fraction(1, 90_000)
KEYFRAME_INTERVAL_S = 1.0  # short GOPs: the fan-out's GOP cache stays small
DEFAULT_FPS = 25.0
READY_TIMEOUT_S = 5.0
SOURCE_QUEUE = 64  # packets; behind by more, the transcoder skips to the camera's next keyframe
BEHIND_S = 0.2  # a packet this old with more waiting is decoded only, not encoded: catch up to live
H264_BIT_RATE = 3_000_000
VP8_MAX_WIDTH = 1280
VP8_BITS_PER_PIXEL = 0.1  # per frame: about 2.3 Mbit/s at 1280x720, 25 fps
VP8_BIT_RATE = (300_000, 2_500_000)  # bounds
VP8_CPU_USED = 14  # libvpx realtime speed (up to 16): at 16 about 15% less CPU, 1 dB worse; costs in README.md


TranscodeKey = tuple[str, str]  # (stream key, target codec)


def vp8_size(width: int, height: int) -> tuple[int, int]:
    """The picture size VP8 is encoded at: at most ``VP8_MAX_WIDTH`` wide, same aspect, even."""
    if width <= VP8_MAX_WIDTH:
        return width - width % 2, height - height % 2
    scaled = round(height * VP8_MAX_WIDTH / width)
    return VP8_MAX_WIDTH, max(2, scaled - scaled % 2)


def _h264_encoder(width: int, height: int, fps: float) -> Any:
    enc = av.CodecContext.create("libx264", "w")
    enc.width = width
    enc.height = height
    enc.pix_fmt = "yuv420p"
    enc.time_base = OUT_TIME_BASE
    enc.framerate = fractions.Fraction(fps).limit_denominator(1001)
    enc.bit_rate = H264_BIT_RATE
    keyint = max(1, round(fps * KEYFRAME_INTERVAL_S))
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


def _vp8_encoder(width: int, height: int, fps: float) -> Any:
    enc = av.CodecContext.create("libvpx", "w")
    enc.width = width
    enc.height = height
    enc.pix_fmt = "yuv420p"
    enc.time_base = OUT_TIME_BASE
    enc.framerate = fractions.Fraction(fps).limit_denominator(1001)
    low, high = VP8_BIT_RATE
    bit_rate = int(min(high, max(low, width * height * fps * VP8_BITS_PER_PIXEL)))
    enc.bit_rate = bit_rate
    keyint = max(1, round(fps * KEYFRAME_INTERVAL_S))
    enc.gop_size = keyint
    enc.qmin = 4
    enc.qmax = 56
    enc.options = {
        # live: no look-ahead, the fastest realtime speed that still looks right
        "deadline": "realtime",
        "cpu-used": str(VP8_CPU_USED),
        "lag-in-frames": "0",
        "auto-alt-ref": "0",
        # a lost frame costs the frames after it less than a whole GOP
        "error-resilient": "default",
        # CBR within a one-second buffer: the rate stays bounded on busy scenes
        "minrate": str(bit_rate),
        "maxrate": str(bit_rate),
        "bufsize": str(bit_rate),
        "undershoot-pct": "100",
        "overshoot-pct": "15",
        "static-thresh": "1",
        "max-intra-rate": "300",
    }
    enc.thread_count = 2 if width * height > 640 * 480 else 1
    return enc


class FrameCoder:
    """Decode the camera's codec, encode the target; runs only in the transcoder's thread."""

    def __init__(self, target: str, fps: float | None) -> None:
        if target not in TARGETS:
            raise ValueError(f"no transcoder to {target!r}; targets: {', '.join(TARGETS)}")
        self.target = target
        self.fps = fps or DEFAULT_FPS
        self.decoder: Any = None
        self.encoder: Any = None
        self.generation: int | None = None
        self.size: tuple[int, int] | None = None  # the encoded picture's
        self._last_pts: int | None = None

    def code(self, packet: MediaPacket, source_codec: str, *, encode: bool = True) -> list[MediaPacket]:
        """Decode ``packet``; unless ``encode`` is false (behind live: decode only), encode what came out."""
        if packet.generation != self.generation or self.decoder is None:
            # a reconnect: the camera's decoder state is gone, and its clock
            # may restart; start both afresh (the encoder's first frame is a keyframe)
            self.decoder = av.CodecContext.create(source_codec, "r")
            self.encoder = None
            self.generation = packet.generation
        inp = av.Packet(packet.data)
        inp.pts = packet.pts
        inp.dts = packet.dts
        inp.time_base = packet.time_base
        out: list[MediaPacket] = []
        try:
            frames = self.decoder.decode(inp)
        except av.error.FFmpegError as exc:
            log.debug("%s decode error: %s", source_codec, exc)
            return out
        if encode:
            for frame in frames:
                out.extend(self._encode(frame, packet))
        return out

    def _encode(self, frame: av.VideoFrame, source: MediaPacket) -> list[MediaPacket]:
        width, height = vp8_size(frame.width, frame.height) if self.target == "vp8" else (frame.width, frame.height)
        if self.encoder is None or self.size != (width, height):
            make = _vp8_encoder if self.target == "vp8" else _h264_encoder
            self.encoder = make(width, height, self.fps)
            self.size = (width, height)
            self._last_pts = None
        if (frame.width, frame.height) != (width, height) or frame.format.name != "yuv420p":
            frame = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BILINEAR")
        ts = frame.pts if frame.pts is not None else (source.pts if source.pts is not None else source.dts)
        pts = int(ts * source.time_base / OUT_TIME_BASE) if ts is not None else None
        if pts is not None and self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders refuse a timestamp that does not advance
        if pts is not None:
            self._last_pts = pts
        frame.pts = pts
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

    def close(self) -> None:
        self.decoder = None
        self.encoder = None


class Transcoder:
    """One camera stream's conversion to one target codec, and the fan-out to its viewers."""

    def __init__(self, stream_key: str, target: str, mux: Any, *, camera_id: str | None = None) -> None:
        self.stream_key = stream_key
        self.target = target
        self.camera_id = camera_id or stream_key
        self.mux = mux
        info = getattr(mux, "stream_info", None)
        self.source_codec: str | None = getattr(info, "codec", None)
        self.coder = FrameCoder(target, getattr(info, "fps", None))
        # the camera's own multiplexer class, fed the target codec: GOP cache and bounded viewers
        self.fanout = CameraMux(f"{stream_key}:{target}", ring_seconds=0.0)
        self.profile_level_id: str | None = None  # H.264 target only
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"transcode-{stream_key}-{target}")
        self.frames_out = 0
        self.frames_skipped = 0  # decoded but not encoded: behind live (a cached GOP, or a slow machine)

    @property
    def name(self) -> str:
        source = CODEC_NAMES.get(self.source_codec or "", self.source_codec or "its codec")
        return f"{source} to {CODEC_NAMES[self.target]}"

    @property
    def stream_info(self) -> Any:
        return self.fanout.stream_info

    def subscribe(self, name: str, **kwargs: Any) -> Any:
        return self.fanout.subscribe(name, **kwargs)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"transcode-{self.stream_key}-{self.target}"
            )

    async def ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Wait for the first encoded keyframe; ``False`` if none came in ``timeout`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            subscription = self.mux.subscribe(f"transcode:{self.stream_key}:{self.target}", maxsize=SOURCE_QUEUE,
                                              start="gop")
        except SubscriptionClosed:
            self.fanout.close()
            log.info("no transcoding of %s: its stream is closed", self.stream_key)
            return
        log.info("transcoding %s from %s for browsers that cannot take it", self.stream_key, self.name)
        try:
            while True:
                try:
                    packet = await subscription.get()
                except SubscriptionClosed:
                    log.info("transcoding %s from %s ends: its stream closed", self.stream_key, self.name)
                    return
                info = getattr(self.mux, "stream_info", None)
                self.source_codec = getattr(info, "codec", None) or self.source_codec or "h264"
                # Encode only near the live edge: the cached GOP at start (and a
                # backlog on a busy machine) is decoded for its references, but
                # not encoded, so the first picture is live and the delay bounded.
                live = subscription.queued == 0 or time.monotonic() - packet.arrival < BEHIND_S
                try:
                    coded = await loop.run_in_executor(
                        self._executor, lambda p=packet, e=live: self.coder.code(p, self.source_codec, encode=e)
                    )
                except Exception as exc:  # contain a codec failure; the next keyframe retries
                    log.warning("transcoder of %s (%s) failed on a packet: %s", self.stream_key, self.name, exc)
                    self.coder.decoder = None
                    continue
                if not live:
                    self.frames_skipped += 1
                for out in coded:
                    if out.keyframe and not self._ready.is_set():
                        self._first_keyframe(out)
                    self.frames_out += 1
                    self.fanout.publish(out)
        finally:
            subscription.close()
            self.fanout.close()  # the camera went away: its viewers end too

    def _first_keyframe(self, packet: MediaPacket) -> None:
        if self.target == "h264":
            self.profile_level_id = profile_level_id_from_sps(packet.data)
        width, height = self.coder.size or (0, 0)
        self.fanout.set_stream_info(StreamInfo(
            codec=self.target,
            width=width,
            height=height,
            time_base=OUT_TIME_BASE,
            profile_level_id=self.profile_level_id,
            fps=self.coder.fps,
        ))
        self._ready.set()

    def describe(self) -> dict[str, Any]:
        size = self.coder.size
        return {
            "stream": self.stream_key,
            "camera_id": self.camera_id,
            "from": self.source_codec,
            "to": self.target,
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "frames_out": self.frames_out,
            "frames_skipped": self.frames_skipped,
        }

    @property
    def finished(self) -> bool:
        """It stopped by itself: its camera stream went away (its viewers ended with it)."""
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._release()

    def _release(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.exception()  # retrieved, so that asyncio does not warn of it
        self.fanout.close()
        self._executor.submit(self.coder.close)
        self._executor.shutdown(wait=False)
        log.info("stopped transcoding %s from %s (%d frames)", self.stream_key, self.name, self.frames_out)


class TranscodeHub:
    """The running transcoders of one app, keyed by (stream key, target) and counted by viewers.

    ``on_change(camera_id, running)`` is called when a camera's first
    transcoder starts and after its last one stops (any stream, any target).
    """

    def __init__(self, on_change: Callable[[str, bool], None] | None = None) -> None:
        self.transcoders: dict[TranscodeKey, Transcoder] = {}
        self.users: dict[TranscodeKey, int] = {}
        self.on_change = on_change

    def acquire(self, stream_key: str, target: str, mux: Any, *, camera_id: str | None = None) -> Transcoder:
        key = (stream_key, target)
        t = self.transcoders.get(key)
        if t is not None and t.finished:
            # its stream closed under it (a camera removed and added again):
            # a new one; the old one's viewers are ending and release the key
            self.transcoders.pop(key)._release()
            t = None
        if t is None:
            camera_id = camera_id or stream_key
            first_of_camera = not self.running(camera_id)
            t = self.transcoders[key] = Transcoder(stream_key, target, mux, camera_id=camera_id)
            t.start()
            if first_of_camera and self.on_change:
                self.on_change(camera_id, True)
        self.users[key] = self.users.get(key, 0) + 1
        return t

    async def release(self, stream_key: str, target: str) -> None:
        key = (stream_key, target)
        left = self.users.get(key, 0) - 1
        if left > 0:
            self.users[key] = left
            return
        self.users.pop(key, None)
        t = self.transcoders.pop(key, None)
        if t is not None:
            await t.stop()
            if self.on_change and not self.running(t.camera_id):
                self.on_change(t.camera_id, False)

    def running(self, camera_id: str) -> bool:
        """Whether any transcoder of ``camera_id`` runs."""
        return any(t.camera_id == camera_id for t in self.transcoders.values())

    def active(self) -> list[dict[str, Any]]:
        return [{**self.transcoders[k].describe(), "viewers": self.users.get(k, 0)} for k in sorted(self.transcoders)]

    async def close(self) -> None:
        for stream_key, target in list(self.transcoders):
            self.users[(stream_key, target)] = 1
            await self.release(stream_key, target)
