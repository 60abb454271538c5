"""Decoding for the frame hub: packets in, the pictures a rate needs out, with motion measured.

Runs only in a camera's decode thread (:mod:`core.media.frames` owns the
thread and hands the results to the event loop). Every packet is decoded,
since later frames refer to earlier ones; only the newest frame due at the
wanted rate becomes a BGR picture. Motion is the share of a 64-pixel-wide grey
thumbnail that changed since the previous picture.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

log = logging.getLogger("bconnect.frames")

FRAME_NICE = 10  # an analysis thread runs at the process's niceness + this: ingest and WebRTC come first
# the process's own niceness, read at import (by its main thread, before any thread was lowered)
BASE_NICE = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0
FRAME_POLICY: int | None = None  # a scheduling policy for this process's analysis threads besides nice (set_thread_policy)
POLICY_NAME = "nice"  # [analytics] thread_policy (set_thread_policy)
MOTION_WIDTH = 64  # the grey thumbnail motion is measured on


@dataclass(frozen=True)
class FrameSettings:
    motion_pixel_delta: int = 12  # grey levels (of 255) a thumbnail pixel must change by to count as motion
    motion_threshold: float = 0.003  # share of changed pixels from which a frame is worth detecting on
    force_every_s: float = 10.0  # a frame to detect on at least this often, motion or not
    settle_s: float = 2.0  # after a preset change, frames carry no preset this long (the camera still travels)


@dataclass(frozen=True)
class DecodedPicture:
    """One picture and its motion, as the decode thread hands it to the hub."""

    pts_s: float | None
    t: float  # stream time, or arrival when the packet had none
    wall: datetime.datetime
    image: np.ndarray
    motion: float
    detect: bool
    forced: bool


class RateClock:
    """Which of a stream's times are due at a rate: a subscriber's and a decoder's pace, and what a gap cost."""

    def __init__(self) -> None:
        self._due: float | None = None
        self._last: float | None = None

    def due(self, t: float, fps: float) -> bool:
        if self._last is not None and t < self._last:
            self._due = None  # stream time went back: start the rate again
        self._last = t
        if self._due is not None and t < self._due - 0.01:
            return False
        step = 1.0 / fps
        self._due = self._due + step if self._due is not None and t - self._due < step else t + step
        return True


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
        self._clock = RateClock()
        self._thumb: np.ndarray | None = None
        self._last_detect: float | None = None
        self._tick: tuple[int, int] = (0, 1)  # the packets' time base, and its float: no Fraction per frame
        self._tick_s = 0.0

    def decode(self, packets: list[Any], codec: str, fps: float) -> list[DecodedPicture]:
        """Decode a batch; of the frames due at ``fps`` only the newest becomes a picture (live first)."""
        due: list[tuple[Any, Any, float | None, float]] = []
        for packet in packets:
            if self.ctx is None or self.key != (codec, packet.generation):
                self.ctx = av.CodecContext.create(codec, "r")
                self.ctx.thread_count = 1
                self.key = (codec, packet.generation)
                self._clock = RateClock()
            pkt = av.Packet(packet.data)
            # pts and dts only: the time base is applied here as a float (a Fraction set on each packet and
            # multiplied per frame held the GIL for ~7 % of its held time with 16 cameras analysed, py-spy --gil)
            pkt.pts, pkt.dts = packet.pts, packet.dts
            tick_s = self._seconds_per_tick(packet.time_base)
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
                pts_s = frame.pts * tick_s if frame.pts is not None else None
                t = pts_s if pts_s is not None else packet.arrival
                if self._clock.due(t, fps):
                    due.append((frame, packet, pts_s, t))
        if not due:
            return []
        self.behind += len(due) - 1  # a backlog (the cached GOP at start, a busy machine): only the newest counts
        return [self._picture(*due[-1])]

    def _seconds_per_tick(self, time_base: Any) -> float:
        key = (time_base.numerator, time_base.denominator)
        if key != self._tick:
            self._tick, self._tick_s = key, time_base.numerator / time_base.denominator
        return self._tick_s

    def _picture(self, frame: Any, packet: Any, pts_s: float | None, t: float) -> DecodedPicture:
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
        return DecodedPicture(pts_s, t, wall, image, motion, detect, forced)

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


def set_thread_policy(name: str, worker: bool = False) -> None:
    """``[analytics] thread_policy``, set once at start, before analysis threads exist: ``"nice"`` (the
    default: nice +10 only) or ``"idle"``, which puts a worker process's analysis threads (``worker``: the
    frame worker's, the detector process's) at Linux's SCHED_IDLE too, where it exists.

    The server's own analysis threads stay at nice +10 under either policy: they take the server's GIL,
    and one preempted at SCHED_IDLE while it held it waited for a core behind the workers' threads, with
    the event loop waiting for the GIL behind it (with 16 cameras analysed, in one run: the viewers' p99
    added delay 1.09-1.21 times the reference with them at nice +10, against 1.19-1.63 at SCHED_IDLE;
    docs/analytics.md, "Workers in the server's CPU group")."""
    global FRAME_POLICY, POLICY_NAME
    POLICY_NAME = "idle" if name == "idle" else "nice"
    FRAME_POLICY = getattr(os, "SCHED_IDLE", None) if name == "idle" and worker else None


def thread_policy() -> str:
    """The policy :func:`set_thread_policy` set, ``"idle"`` or ``"nice"``: what a worker process is told."""
    return POLICY_NAME


def lower_thread_priority() -> None:
    """Put the calling thread behind ingest and live view: nice +10, and SCHED_IDLE if so set (in a
    worker process, :func:`set_thread_policy`).

    nice +10 leaves each analysis thread a CFS weight of 110 against the loop's
    1024: sixteen of them together outweigh it, and a waking loop need not
    preempt them. A SCHED_IDLE thread is preempted at once by any waking normal
    thread of its CPU group, but gets only what the group's other work leaves:
    on a machine where other work shares that group (the test suite's other
    worker, a build in the same shell) the analytics can stop. Hence an opt-in
    for dedicated servers (``[analytics] thread_policy = "idle"``). Threads it
    starts (an inference library's pool) inherit both.
    """
    tid = threading.get_native_id()
    try:  # os.nice() would lower the whole process on Linux; setpriority on the thread id lowers this thread only
        # to the process's niceness + 10, not this thread's: a thread started by an analysis thread (the analytics
        # loop's executors) inherits its +10 and would otherwise end at 19, behind the workers' threads
        if os.getpriority(os.PRIO_PROCESS, tid) < (target := min(19, BASE_NICE + FRAME_NICE)):
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except (OSError, AttributeError):
        pass
    if FRAME_POLICY is not None:
        try:
            os.sched_setscheduler(tid, FRAME_POLICY, os.sched_param(0))
        except (OSError, AttributeError):
            pass
