"""Helpers for the media tests: real encoded files, synthetic packets, waiting."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from core.media.packets import MediaPacket

TB = Fraction(1, 90_000)


def write_test_video(
    path: Path,
    *,
    codec: str = "libx264",
    container: str = "mp4",
    seconds: float = 2.0,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    gop: int = 25,
    preset: str = "ultrafast",  # x264's ultrafast gives Constrained Baseline; veryfast gives High
) -> Path:
    """Encode a moving test pattern with PyAV (libx264/libx265/mjpeg): a real file.

    MP4 and MKV store H.264/H.265 length-prefixed (avcC/hvcC), with the
    parameter sets only in the extradata, as cameras' recordings do.
    """
    frames = int(seconds * fps)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"g": str(gop), "bf": "0", "preset": preset, "tune": "zerolatency"}
        elif codec == "libx265":
            stream.options = {"g": str(gop), "preset": preset, "x265-params": f"keyint={gop}:log-level=error"}
        base = np.zeros((height, width, 3), dtype=np.uint8)
        for i in range(frames):
            img = base.copy()
            x = (i * 7) % (width - 40)
            img[100:140, x:x + 40] = (255, 200, 0)
            img[:, :, 2] = (i * 5) % 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def packet(ts_s: float, keyframe: bool = False, generation: int = 1, *, arrival: float | None = None) -> MediaPacket:
    """A synthetic packet at ``ts_s`` seconds (for multiplexer unit tests)."""
    ts = int(ts_s * 90_000)
    data = (b"\x00\x00\x00\x01\x65" if keyframe else b"\x00\x00\x00\x01\x41") + ts.to_bytes(8, "big")
    return MediaPacket(data, ts, ts, TB, keyframe, ts_s if arrival is None else arrival, generation)


def gops(count: int, gop: int = 25, fps: int = 25, start_s: float = 0.0, generation: int = 1) -> list[MediaPacket]:
    """``count`` GOPs of ``gop`` frames each."""
    return [
        packet(start_s + i / fps, keyframe=(i % gop == 0), generation=generation) for i in range(count * gop)
    ]


async def take(sub, count: int, timeout: float) -> list[MediaPacket]:
    """The next ``count`` packets of a subscription, or fail after ``timeout``."""
    out: list[MediaPacket] = []

    async def run() -> None:
        while len(out) < count:
            out.append(await sub.get())

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"got {len(out)} of {count} packets within {timeout:g} s") from None
    return out
