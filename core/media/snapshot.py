"""Snapshots: a camera's latest keyframe decoded to JPEG, in a worker thread.

The keyframe comes from the multiplexer's GOP cache and carries its parameter
sets, so it decodes on its own. One JPEG is made per keyframe and camera and
shared by every request until the next keyframe arrives.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from fractions import Fraction

import av

from core.media.mux import CameraMux
from core.media.packets import MediaPacket


class SnapshotUnavailable(Exception):
    """No picture to give yet (no keyframe, or it does not decode); the message says why."""


def keyframe_to_jpeg(packet: MediaPacket, codec: str, quality: int = 3) -> bytes:
    """Decode one keyframe and encode it as JPEG; blocking, for a worker thread.

    ``quality`` is the JPEG quantiser scale: 2 (best) to 31 (smallest).
    """
    decoder = av.CodecContext.create(codec, "r")
    try:
        frames = decoder.decode(av.Packet(packet.data))
        if not frames:
            frames = decoder.decode(None)  # a decoder with delay gives the frame on flush
    except av.error.FFmpegError as exc:
        raise SnapshotUnavailable(f"keyframe does not decode: {exc.strerror or exc}") from None
    if not frames:
        raise SnapshotUnavailable("keyframe gave no picture")
    frame = frames[0]
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = frame.width
    encoder.height = frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qscale": str(quality)}
    packets = encoder.encode(frame.reformat(format="yuvj420p")) + encoder.encode(None)
    return bytes(packets[0])


def _failed(future: asyncio.Future[bytes]) -> bool:
    return future.cancelled() or (future.done() and future.exception() is not None)


@dataclass
class _Cached:
    keyframe: MediaPacket
    jpeg: asyncio.Future[bytes]


class Snapshots:
    """JPEG snapshots of every camera, one decode per keyframe, a bounded number at once."""

    def __init__(self, max_parallel: int = 2) -> None:
        self._cache: dict[str, _Cached] = {}
        self._slots = asyncio.Semaphore(max_parallel)

    async def jpeg(self, camera_id: str, mux: CameraMux) -> bytes:
        keyframe = mux.last_keyframe()
        info = mux.stream_info
        if keyframe is None or info is None:
            raise SnapshotUnavailable("no keyframe received yet")
        cached = self._cache.get(camera_id)
        if cached is None or cached.keyframe is not keyframe or _failed(cached.jpeg):
            cached = _Cached(keyframe, asyncio.get_running_loop().create_future())
            self._cache[camera_id] = cached
            try:
                async with self._slots:
                    jpeg = await asyncio.to_thread(keyframe_to_jpeg, keyframe, info.codec)
            except asyncio.CancelledError:
                cached.jpeg.cancel()
                raise
            except Exception as exc:
                cached.jpeg.set_exception(exc)
                cached.jpeg.exception()  # marked as retrieved: the caller gets it raised
                raise
            cached.jpeg.set_result(jpeg)
            return jpeg
        return await asyncio.shield(cached.jpeg)

    def forget(self, camera_id: str) -> None:
        self._cache.pop(camera_id, None)
