"""A simulated camera's sub stream: its rendered loop scaled down, as a real camera's second stream is.

Real cameras send a small second stream (640x360, say) that analytics and
grid tiles read, so the detector's work does not grow with the main stream's
size. A simulated camera offers one when ``[plugins.traffic_sim]
sub_resolution`` is set: the main loop, once rendered, is decoded and scaled
down (area filter) into a second file beside it, with the same frame rate,
keyframes and length, so both play the same scene in step. It takes a few
seconds a camera, and is cached like the loop (its name carries the loop's).
"""

from __future__ import annotations

import threading
from pathlib import Path

import av

from plugins.traffic_sim.encoder import encode_h264


def sub_path(video: Path, width: int, height: int) -> Path:
    """Where the sub stream of ``video`` at ``width`` x ``height`` lies."""
    return video.with_name(f"{video.stem}.sub-{width}x{height}{video.suffix}")


def write_sub_stream(
    video: Path, width: int, height: int, fps: int, keyframe_seconds: int, stop: threading.Event | None = None
) -> Path:
    """``video`` scaled to ``width`` x ``height`` beside it, unless there already. Blocking: run it in a thread."""
    out = sub_path(video, width, height)
    if out.is_file():
        return out

    def frames():
        with av.open(str(video)) as src:
            for frame in src.decode(video=0):
                yield frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()

    encode_h264(frames(), out, width, height, fps, keyframe_seconds, stop)
    return out
