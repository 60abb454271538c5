"""Frames of a video file at a chosen rate, decoded in a thread of their own.

For ``bconnect analyze``: an integrator's footage is read as a camera would
be analysed, a few frames a second picked by stream time. Unlike a live
camera nothing may be dropped, so the queue between the decoding thread and
the event loop is bounded and the decoder waits when it is full: memory
stays flat however long the file and however slow the detector.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

QUEUE_FRAMES = 4  # decoded frames waiting for the analysis: enough to keep the detector busy


class VideoError(Exception):
    """The file cannot be analysed; the message is one line naming the file and why."""


@dataclass(frozen=True)
class FileFrame:
    """One picked frame: its index in the file, stream time (s) and the picture (H x W x 3 uint8 RGB)."""

    index: int
    t: float
    image: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass
class DecodeStats:
    decoded: int = 0  # frames the decoder produced
    picked: int = 0  # of which handed to the analysis
    undecodable: int = 0  # packets the decoder refused (skipped)
    decode_s: float = 0.0  # time spent decoding and converting, in the thread


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    codec: str
    width: int
    height: int
    fps: float | None  # the file's average frame rate, when it says
    duration_s: float | None


def probe(path: Path) -> VideoInfo:
    """What the file holds; :class:`VideoError` if it is missing or not a video PyAV decodes."""
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = float(stream.average_rate) if stream.average_rate else None
            duration = float(container.duration) / av.time_base if container.duration else None
            return VideoInfo(path, ctx.name, ctx.width, ctx.height, rate, duration)
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: not a video file PyAV can read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__


class FrameReader:
    """Picks frames of ``path``: ``every``-th frame, or ``fps`` a second by stream time, up to ``duration_s``.

    ``async for frame in reader`` yields :class:`FileFrame`; decoding runs in a
    daemon thread started by the iteration. A file whose every packet fails to
    decode raises :class:`VideoError` at its end.
    """

    def __init__(self, path: Path, fps: float | None = 5.0, every: int | None = None, duration_s: float | None = None) -> None:
        self.path = path
        self.fps = fps
        self.every = every
        self.duration_s = duration_s
        self.stats = DecodeStats()
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    async def __aiter__(self) -> AsyncIterator[FileFrame]:
        loop = asyncio.get_running_loop()
        # at most QUEUE_FRAMES decoded and not yet taken: the slots bound the queue, so the thread hands a
        # frame over with a plain callback (no task on the loop per frame: callers that wait for the tasks
        # their own code started, as ``bconnect analyze`` does for analyzers' evidence, never see ours)
        queue: asyncio.Queue[FileFrame | BaseException | None] = asyncio.Queue()
        slots = threading.BoundedSemaphore(QUEUE_FRAMES)

        def put(item: FileFrame | BaseException | None) -> bool:
            # waits for room: a file is read at the analysis' pace, never faster
            while not self._stop.is_set():
                if slots.acquire(timeout=0.2):
                    try:
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                    except RuntimeError:  # the loop has closed: nobody reads on
                        return False
                    return True
            return False

        def work() -> None:
            try:
                self._decode(put)
                put(None)
            except BaseException as exc:  # handed to the loop: the caller reports it
                put(exc)

        thread = threading.Thread(target=work, name=f"decode-{self.path.name}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                slots.release()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()

    def _decode(self, put) -> None:
        stats = self.stats
        step = 1.0 / self.fps if self.fps else 0.0
        due = None  # stream time of the next frame to pick
        try:
            container = av.open(str(self.path))
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: not a video file PyAV can read ({_reason(exc)})") from None
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate) if stream.average_rate else None
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    stats.undecodable += 1  # a damaged packet: skipped, as a camera's would be
                    continue
                stats.decode_s += time.perf_counter() - t0
                for frame in frames:
                    index = stats.decoded
                    t = frame.time if frame.time is not None else (index / rate if rate else float(index))
                    if self.duration_s is not None and t >= self.duration_s:
                        return
                    stats.decoded += 1
                    if self.every:
                        if index % self.every:
                            continue
                    elif step:
                        if due is not None and t < due - 1e-6:
                            continue
                        due = t + step if due is None or t > due + step else due + step
                    t0 = time.perf_counter()
                    image = frame.to_ndarray(format="rgb24")
                    stats.decode_s += time.perf_counter() - t0
                    stats.picked += 1
                    if not put(FileFrame(index, float(t), image)):
                        return
        if stats.decoded == 0:
            problem = f"{stats.undecodable} packets failed to decode" if stats.undecodable else "no frame in it"
            raise VideoError(f"{self.path}: nothing decodable ({problem})")
