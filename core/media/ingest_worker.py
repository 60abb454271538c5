"""An ingest process: the server's cameras' connections, away from its event loop.

    python -m core.media.ingest_worker FD

The server starts one or more of these (:mod:`core.media.ingest_pool`) and
talks to each over the socket ``FD`` (:mod:`core.media.wire`). Each camera
runs the same :class:`~core.media.ingest.CameraIngest` thread as in-process
ingest; each packet is written to the socket by its own thread, or queued for
a writer thread while the socket is full. What this buys is isolation: a crash
in FFmpeg's C code ends this process, which the server restarts, not the
server. It costs CPU and about a millisecond of hand-off (docs/live-view.md).

The process ends when the socket closes: the server stopped or died, so no
ingest process outlives it. It ignores SIGINT and SIGTERM sent to its process
group: the server ends it in its own order.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import signal
import socket
import sys
import threading
import time
from typing import Any

from core.media import wire
from core.media.ingest import CameraIngest
from core.media.ingest_settings import IngestSettings
from core.media.packets import MediaPacket, StreamInfo

STATUS_EVERY_S = 0.2


class Outbox:
    """Frames for the server, in order; packets bounded in number.

    While nothing is queued, the calling thread writes its frame straight to
    the socket without blocking: no hand-off to another thread, so no wait
    for the GIL, which 50 demux threads keep busy. When the socket is full
    (the server is busy for a moment), frames queue here and one writer
    thread drains them; a packet finding ``max_packets`` queued is refused,
    and its camera skips to its next keyframe.
    """

    def __init__(self, sock: socket.socket, max_packets: int) -> None:
        self.sock = sock
        self.max_packets = max_packets
        self._frames: collections.deque[list[bytes]] = collections.deque()
        self._packets = 0
        self._writing = False  # the writer thread holds a batch outside the lock
        self._cond = threading.Condition()
        self.closed = False

    def put(self, buffers: list[bytes], *, packet: bool = False) -> bool:
        with self._cond:
            if self.closed:
                return False
            if not self._frames and not self._writing:
                try:
                    sent = self.sock.sendmsg(buffers, (), socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    self._close()
                    return False
                rest = _after(buffers, sent)
                if rest:  # the frame's remainder must go next, whatever the limit
                    self._frames.append(rest)
                    self._packets += packet
                    self._cond.notify()
                return True
            if packet and self._packets >= self.max_packets:
                return False
            self._frames.append(buffers)
            self._packets += packet
            self._cond.notify()
        return True

    def backlog(self) -> int:
        """Frames waiting for the writer thread (the socket was full)."""
        return len(self._frames)

    def run(self) -> None:
        while True:
            with self._cond:
                self._writing = False
                while not self._frames and not self.closed:
                    self._cond.wait()
                if self.closed:
                    return
                batch = [b for frame in self._frames for b in frame]
                self._frames.clear()
                self._packets = 0
                self._writing = True
            try:
                wire.send_buffers(self.sock, batch)
            except OSError:
                self.close()
                return

    def _close(self) -> None:
        self.closed = True
        self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._close()


def _after(buffers: list[bytes], sent: int) -> list[bytes]:
    """What is left of ``buffers`` once ``sent`` bytes of them are written."""
    for i, b in enumerate(buffers):
        if sent < len(b):
            return [memoryview(b)[sent:], *buffers[i + 1 :]]
        sent -= len(b)
    return []


class WireHandoff:
    """What a :class:`CameraIngest` posts to, in place of the event loop's hand-off."""

    def __init__(self, slot: int, outbox: Outbox) -> None:
        self.slot = slot
        self.outbox = outbox

    def post(self, func: Any, arg: Any) -> bool:
        if isinstance(arg, MediaPacket):
            return self.outbox.put([wire.packet_header(self.slot, arg), arg.data], packet=True)
        if isinstance(arg, StreamInfo):
            return self.outbox.put([wire.frame_obj(wire.K_INFO, self.slot, arg)])
        raise TypeError(f"cannot send {type(arg).__name__}")


class WireLogHandler(logging.Handler):
    """Sends log records to the server, which logs them in its own format."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__()
        self.outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in record.__dict__.items() if k in ("camera", "state")}
        try:
            self.outbox.put([wire.frame_obj(wire.K_LOG, 0, (record.name, record.levelno, record.getMessage(), extra))])
        except Exception:
            self.handleError(record)


def _ignore(_arg: Any) -> None:
    pass


class ReportingIngest(CameraIngest):
    """Reports each change of state at once, ahead of the packets that follow it."""

    def __init__(self, *args: Any, on_change: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_change = on_change

    def _set_state(self, state: Any, reason: str | None, attempts: int) -> None:
        super()._set_state(state, reason, attempts)
        self.on_change()


class Worker:
    def __init__(self, sock: socket.socket, max_packets: int = 2000) -> None:
        self.sock = sock
        self.outbox = Outbox(sock, max_packets)
        self.cameras: dict[int, CameraIngest] = {}
        self._sent: dict[int, tuple] = {}
        self._report_lock = threading.Lock()

    def start_camera(self, slot: int, camera_id: str, source: Any, settings: IngestSettings) -> None:
        old = self.cameras.pop(slot, None)
        if old is not None:
            old.request_stop()
        ingest = ReportingIngest(
            camera_id, source, handoff=WireHandoff(slot, self.outbox), publish=_ignore, set_stream_info=_ignore,
            settings=settings, on_change=lambda: self._report(slot, ingest),
        )  # fmt: skip
        self.cameras[slot] = ingest
        self._sent.pop(slot, None)
        ingest.start()

    def stop_camera(self, slot: int) -> None:
        ingest = self.cameras.pop(slot, None)
        if ingest is not None:
            ingest.request_stop()
        with self._report_lock:
            self._sent.pop(slot, None)

    def _report(self, slot: int, ingest: CameraIngest) -> None:
        # from the status thread and from ingest threads (on a change of state)
        with self._report_lock:
            if self.cameras.get(slot) is not ingest:
                return  # stopped: the server no longer asks about it
            state = (ingest.status, ingest.last_packet_at, ingest.packets, ingest.dropped, ingest.connects)
            if self._sent.get(slot) == state:
                return
            self._sent[slot] = state
            status, last, packets, dropped, connects = state
            self.outbox.put([wire.frame_obj(wire.K_STATUS, slot, {
                "status": status, "last_packet_at": last, "packets": packets, "dropped": dropped, "connects": connects,
            })])  # fmt: skip

    def report_loop(self) -> None:
        while not self.outbox.closed:
            if not self.outbox.backlog():  # the server is behind: counters can wait, packets first
                for slot, ingest in list(self.cameras.items()):
                    self._report(slot, ingest)
            time.sleep(STATUS_EVERY_S)

    def serve(self) -> None:
        threading.Thread(target=self.outbox.run, name="ingest-outbox", daemon=True).start()
        threading.Thread(target=self.report_loop, name="ingest-status", daemon=True).start()
        self.outbox.put([wire.frame_obj(wire.K_READY, 0, os.getpid())])
        reader = wire.FrameReader()
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                return  # the server is gone
            for kind, slot, payload in reader.feed(data):
                if kind == wire.K_START:
                    camera_id, source, settings = pickle.loads(payload)
                    self.start_camera(slot, camera_id, source, settings)
                elif kind == wire.K_STOP:
                    self.stop_camera(slot)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m core.media.ingest_worker FD (started by the B-Connect server)", file=sys.stderr)
        return 2
    # Ctrl-C or a service manager's SIGTERM reaches the whole process group; the
    # server stops this process itself (closing the socket), in its own order
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    worker = Worker(sock)
    root = logging.getLogger()
    root.handlers[:] = [WireLogHandler(worker.outbox)]
    root.setLevel(logging.INFO)
    try:
        worker.serve()
    finally:
        worker.outbox.close()
        for ingest in worker.cameras.values():
            ingest.request_stop()
    # ingest threads may sit in a network read for seconds: they are daemons, end now
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
