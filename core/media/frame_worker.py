"""The frame worker process: the frame hub's decoding and motion gating, out of the server.

    python -P -m core.media.frame_worker FD POLICY

Started by the server (:mod:`core.media.frame_process`); it holds no GIL the
server's event loop waits for. It runs in the server's session, hence its CPU
group; its decode threads run at nice +10 there, behind the thread that reads
the server's packets, or at ``SCHED_IDLE`` with ``thread_policy = "idle"``
(``POLICY``; :mod:`core.child_process` says why).

Over the socket on ``FD`` (the frame format of :mod:`core.media.wire`) it
takes each analysed camera's packets, the ones the server already holds
(never a second pull of the camera), decodes them with the same
:class:`~core.media.frame_decode.FrameDecoder` as the in-process hub, one
thread per camera, and writes the due pictures into shared memory
(:mod:`core.media.frame_slots`), telling the server each one's slot in a small
message. A camera's packets wait in a bounded queue; a queue that overflows
(the worker starved of CPU) is emptied and decoding resumes at the next
keyframe, the due frames in between counted as lost. The server's closing of
the socket ends the process.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import socket
import sys
import threading
from fractions import Fraction
from typing import Any

from core.media import wire
from core.child_process import adopt_thread_policy
from core.media.frame_decode import FrameDecoder, FrameSettings, RateClock, lower_thread_priority
from core.media.frame_slots import SlotWriter
from core.media.packets import MediaPacket

log = logging.getLogger("bconnect.frames")

# server -> worker (packets are wire.K_PACKET)
K_START = 20  # (camera id, FrameSettings)
K_SET = 21  # (codec, fps, time base numerator, denominator): sent before packets when any changes
K_STOP = 22
# worker -> server
K_READY = 30  # payload: pid
K_PICTURE = 31  # a dict: the picture's slot and fields, and the camera's counters

MAX_QUEUE = 128  # packets waiting per camera; more, and the queue is emptied to the next keyframe


class CameraDecode:
    """One camera in the worker: a bounded packet queue and the thread that decodes it."""

    def __init__(self, worker: FrameWorker, slot: int, camera_id: str, settings: FrameSettings) -> None:
        self.worker = worker
        self.slot = slot
        self.camera_id = camera_id
        self.decoder = FrameDecoder(camera_id, settings)
        self.writer = SlotWriter(f"bcf{os.getpid()}-{slot}")
        self.codec, self.fps, self.time_base = "h264", 5.0, Fraction(1, 90000)
        self.queue: collections.deque[MediaPacket] = collections.deque()
        self.ready = threading.Event()
        self.stopped = False
        self.need_key = True
        self.lost = 0  # due frames passed over: a queue emptied to the next keyframe
        self.seq = 0
        self._clock = RateClock()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"frames-{camera_id}", daemon=True)

    def put(self, packet: MediaPacket) -> None:
        with self._lock:
            if self.need_key and not packet.keyframe:
                self._pass_over(packet)
                return
            self.need_key = False
            if len(self.queue) >= MAX_QUEUE:
                for old in self.queue:
                    self._pass_over(old)
                self.queue.clear()
                self.need_key = not packet.keyframe
                if self.need_key:
                    self._pass_over(packet)
                    return
            self.queue.append(packet)
        self.ready.set()

    def _pass_over(self, packet: MediaPacket) -> None:
        t = packet.pts * float(packet.time_base) if packet.pts is not None else packet.arrival
        if self._clock.due(t, self.fps):
            self.lost += 1

    def _run(self) -> None:
        lower_thread_priority()
        while True:
            self.ready.wait()
            self.ready.clear()
            if self.stopped:
                self.writer.close()
                return
            with self._lock:
                batch = list(self.queue)
                self.queue.clear()
            if not batch:
                continue
            try:
                pictures = self.decoder.decode(batch, self.codec, self.fps)
            except Exception as exc:  # a codec that cannot open: contained, retried at the next packets
                log.warning("camera %s: frame decoder failed: %s", self.camera_id, exc)
                self.decoder.ctx = None
                continue
            for d in pictures:
                self.seq += 1
                name, slot = self.writer.write(d.image, self.seq)
                height, width = d.image.shape[:2]
                self.worker.send(K_PICTURE, self.slot, {
                    "segment": name, "slot": slot, "seq": self.seq, "width": width, "height": height,
                    "pts_s": d.pts_s, "t": d.t, "wall": d.wall, "motion": d.motion, "detect": d.detect,
                    "forced": d.forced, "decoded": self.decoder.decoded, "behind": self.decoder.behind,
                    "lost": self.lost, "undecodable": self.decoder.undecodable,
                    "resolution_changes": self.decoder.resolution_changes,
                })  # fmt: skip

    def stop(self) -> None:
        self.stopped = True
        self.ready.set()


class FrameWorker:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.cameras: dict[int, CameraDecode] = {}
        self._send_lock = threading.Lock()

    def send(self, kind: int, slot: int, obj: Any) -> None:
        data = wire.frame_obj(kind, slot, obj)
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                os._exit(0)  # the server is gone

    def run(self) -> None:
        self.send(K_READY, 0, os.getpid())
        reader = wire.FrameReader()
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return  # the server closed its end (or died): stop
            for kind, slot, payload in reader.feed(data):
                self._handle(kind, slot, payload)

    def _handle(self, kind: int, slot: int, payload: memoryview) -> None:
        camera = self.cameras.get(slot)
        if kind == wire.K_PACKET:
            if camera is None:
                return
            pts, dts, arrival, generation, key, data = wire.unpack_packet(payload)
            camera.put(MediaPacket(data, pts, dts, camera.time_base, key, arrival, generation))
        elif kind == K_SET and camera is not None:
            camera.codec, camera.fps, num, den = pickle.loads(payload)
            camera.time_base = Fraction(num, den)
        elif kind == K_START:
            camera_id, settings = pickle.loads(payload)
            if camera is not None:
                camera.stop()
            camera = self.cameras[slot] = CameraDecode(self, slot, camera_id, settings)
            camera.thread.start()
        elif kind == K_STOP and camera is not None:
            del self.cameras[slot]
            camera.stop()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="frame worker %(process)d: %(levelname)s %(message)s")
    adopt_thread_policy(argv)  # before any decode thread starts
    sock = socket.socket(fileno=int(argv[1]))
    worker = FrameWorker(sock)
    try:
        worker.run()
    finally:
        for camera in list(worker.cameras.values()):
            camera.stop()
            camera.thread.join(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
