"""The server's side of the frame worker process (``[analytics] decode = "process"``).

Why: decoding, scaling and motion gating 16 cameras in the server put their
Python under the server's GIL, and the event loop serving live viewers
waited behind it: the viewers' p99 added delay rose several times with
analytics on. Here that work runs in one child process
(:mod:`core.media.frame_worker`), in the server's session and CPU group at
analytics priority (:mod:`core.child_process` says why not a group of its own).

Threads only, never the event loop: each camera's feed thread
(:class:`core.media.frames.CameraFrames`) takes the packets the server
already holds and writes them to the worker's socket (start, settings and
stop messages too); one supervisor thread spawns the worker, reads its
messages, copies each picture out of shared memory
(:mod:`core.media.frame_slots`) and hands it to the loop as the in-process
decoder would. A worker that dies is restarted with backoff; its cameras'
packets in the meantime are dropped and their due frames counted as lost
(``bconnect_analytics_frames_dropped_total``), and the camera's health shows
the worker's state, restarts and last exit.
"""

from __future__ import annotations

import logging
import pickle
import random
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Protocol

import numpy as np

from core.child_process import Backoff, start_worker
from core.media import wire
from core.media.frame_slots import SlotReader
from core.media.frame_worker import K_PICTURE, K_READY

log = logging.getLogger("bconnect.frames")



class PictureSink(Protocol):
    """What the supervisor hands a camera's pictures to (:class:`core.media.frames.CameraFrames`)."""

    def remote_picture(self, meta: dict[str, Any], image: np.ndarray | None) -> None: ...


class RemoteDecoder:
    """The worker's decoder of one camera, as its messages report it (the face of a FrameDecoder's counters)."""

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.decoded = self.undecodable = self.resolution_changes = self.behind = 0
        self.unposted = 0  # pictures the loop was too far behind to take: counted with the next ones
        self._base: dict[str, int] = {}  # counters of the worker before its last restart
        self._last: dict[str, int] = {}
        self._generation = 0
        self.segment: str | None = None  # the shared memory the camera's pictures come through

    def update(self, meta: dict[str, Any], process: FrameProcess) -> int:
        """Take a picture's counters; returns the frames lost since the previous picture."""
        if process.generation != self._generation:  # a restarted worker counts from 0 again
            self._generation = process.generation
            self._base = {k: self._base.get(k, 0) + v for k, v in self._last.items()}
            self._last = {}
        lost = sum(meta[k] - self._last.get(k, 0) for k in ("behind", "lost")) + self.unposted
        self.unposted = 0
        self._last = {k: meta[k] for k in ("decoded", "behind", "lost", "undecodable", "resolution_changes")}
        total = {k: self._base.get(k, 0) + v for k, v in self._last.items()}
        self.decoded, self.undecodable = total["decoded"], total["undecodable"]
        self.resolution_changes, self.behind = total["resolution_changes"], total["behind"] + total["lost"]
        self.size = (meta["width"], meta["height"])
        if self.segment is not None and self.segment != meta["segment"]:
            process.forget_segment(self.segment)
        self.segment = meta["segment"]
        return lost


class FrameProcess:
    """One frame worker for all of a hub's cameras: spawned, read and restarted by a supervisor thread."""

    def __init__(self, *, python: str = sys.executable, rng: random.Random | None = None) -> None:
        self.python = python
        self.rng = rng or random.Random()
        self.cameras: dict[int, PictureSink] = {}
        self.generation = 0  # bumps on every (re)start: feeders send their camera's start again
        self.restarts = 0
        self.pid: int | None = None
        self.state = "starting"
        self.last_exit: str | None = None
        self.closing = False
        self._next_slot = 0
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # the socket's writers: the feed threads
        self._wake = threading.Event()
        self._slots = SlotReader()
        self._released: list[str] = []  # segments of stopped cameras, unmapped by the supervisor thread
        self._thread = threading.Thread(target=self._supervise, name="frame-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def attach(self, camera: PictureSink) -> int:
        """A slot number for the camera (never reused); its feed thread sends the start message."""
        self._next_slot += 1
        self.cameras[self._next_slot] = camera
        return self._next_slot

    def detach(self, slot: int, segment: str | None = None) -> None:
        """The camera stopped: its late pictures are ignored, and its segment is unmapped by the supervisor."""
        self.cameras.pop(slot, None)
        if segment is not None:
            self._released.append(segment)

    def send(self, buffers: list[bytes], generation: int) -> bool:
        """Write to the worker of ``generation``; ``False`` if it is not (or no longer) running."""
        with self._lock:
            if self._sock is None or generation != self.generation:
                return False
            try:
                wire.send_buffers(self._sock, buffers)
            except OSError:
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {"pid": self.pid, "state": self.state, "restarts": self.restarts, "last_exit": self.last_exit}

    def _supervise(self) -> None:
        backoff = Backoff(self.rng)
        while not self.closing:
            started = time.monotonic()
            try:
                self._spawn()
            except Exception as exc:  # the interpreter cannot start: keep trying, backing off
                log.error("frame worker could not start: %s", exc)
                self.last_exit = f"could not start: {exc}"
            else:
                self._read()
                code = self._reap()
                if self.closing:
                    break
                self.last_exit = f"exited with code {code}"
                log.error("frame worker (pid %s) exited with code %s: restarting it with %d cameras",
                          self.pid, code, len(self.cameras))  # fmt: skip
            self.state = "restarting"
            self.restarts += 1
            self._wake.wait(backoff.wait_s(time.monotonic() - started))
        self.state = "closed"
        self._slots.close()

    def _spawn(self) -> None:
        ours, proc = start_worker(self.python, "core.media.frame_worker")
        with self._lock:
            self._proc, self.pid, self._sock = proc, proc.pid, ours
            self.generation += 1
        self.state = "running"
        if self.restarts:
            log.info("frame worker restarted (pid %d, %d cameras)", proc.pid, len(self.cameras))

    def _read(self) -> None:
        sock = self._sock
        assert sock is not None
        reader = wire.FrameReader()
        try:
            while True:
                data = sock.recv(1 << 16)
                if not data:
                    return
                while self._released:
                    self._slots.forget(self._released.pop())
                for kind, slot, payload in reader.feed(data):
                    if kind == K_PICTURE:
                        self._picture(slot, pickle.loads(payload))
                    elif kind == K_READY:
                        log.info("frame worker up (pid %s)", pickle.loads(payload))
        except (OSError, wire.WireError) as exc:
            log.warning("frame worker's socket failed: %s", exc)
        finally:
            with self._lock:
                self._sock = None
            sock.close()

    def _picture(self, slot: int, meta: dict[str, Any]) -> None:
        camera = self.cameras.get(slot)
        if camera is None:
            return  # stopped meanwhile
        try:
            image = self._slots.read(meta["segment"], meta["width"], meta["height"], meta["slot"], meta["seq"])
        except (FileNotFoundError, ValueError, OSError):
            image = None  # the worker replaced the segment meanwhile: a lost picture
        camera.remote_picture(meta, image)

    def forget_segment(self, name: str) -> None:
        """A camera's old segment (its resolution changed); only from the supervisor thread."""
        self._slots.forget(name)

    def _reap(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def close(self) -> None:
        """Stop the worker: its socket closes, it ends; never blocks (the supervisor reaps it)."""
        self.closing = True
        self._wake.set()
        sock = self._sock  # no lock: a feed thread may hold it in a blocked send
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
