"""H.264 files from frames, with PyAV (libx264).

Settings suit the ingest's real-time loop and WebRTC viewers: main profile,
no B-frames, yuv420p, a keyframe exactly every ``keyframe_seconds`` (scene-cut
detection off) so that the loop starts, and restarts, on a keyframe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np


class Cancelled(Exception):
    """The render was stopped (the app is shutting down)."""


def encode_h264(
    frames: Iterable[np.ndarray],
    path: Path,
    width: int,
    height: int,
    fps: int,
    keyframe_seconds: int,
    stop: threading.Event | None = None,
    preset: str = "veryfast",
) -> None:
    """Write ``frames`` (RGB uint8) to ``path`` (.mp4 or .ts), atomically.

    The file appears under its name only when complete: a reader never sees a
    half-written file, and a cancelled render leaves nothing behind.
    """
    gop = fps * keyframe_seconds
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.part{path.suffix}")
    fmt = "mpegts" if path.suffix == ".ts" else "mp4"
    try:
        with av.open(str(tmp), mode="w", format=fmt, options={"movflags": "+faststart"} if fmt == "mp4" else {}) as out:
            stream = out.add_stream("libx264", rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.gop_size = gop
            stream.codec_context.options = {
                "preset": preset,
                "profile": "main",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0",
            }
            for i, rgb in enumerate(frames):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i  # in the encoder's time base, 1/fps
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
