"""Ingest in child processes: the server's side.

With ``[media] ingest_processes = N`` (N >= 1) the registry hands each camera
to one of N ingest processes (:mod:`core.media.ingest_worker`), spread evenly.
Their packets come back over a socket per process and are published to the
cameras' multiplexers right here, on the event loop, so subscribers see the
same :class:`~core.media.packets.MediaPacket` stream as with in-process
ingest. The server's event loop then no longer shares its GIL with one demux
thread per camera.

An ingest process that dies is restarted with backoff and gets its cameras
back; meanwhile they show why they are down. Generations keep rising across
the restart, so viewers treat it as a reconnect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from core.interfaces import StreamSource, redact_url
from core.media import wire
from core.media.ingest_settings import IngestSettings
from core.media.packets import CameraState, CameraStatus, MediaPacket, StreamInfo
from core.media.source_url import mask
from core.media.timeline import TIME_BASE

log = logging.getLogger("bconnect.ingest")

RESTART_BASE_S = 0.5
RESTART_CAP_S = 30.0
HEALTHY_AFTER_S = 60.0  # a process up this long: its next crash restarts at once


class RemoteIngest:
    """One camera ingested in a child process; the registry sees the face of a CameraIngest."""

    def __init__(
        self,
        camera_id: str,
        source: StreamSource,
        settings: IngestSettings,
        publish: Callable[[MediaPacket], None],
        set_stream_info: Callable[[StreamInfo], None],
    ) -> None:
        self.camera_id = camera_id
        self.source = source
        self.settings = settings
        self.publish = publish
        self.set_stream_info = set_stream_info
        self.safe_url = mask(redact_url(source.url), source)
        self.status = CameraStatus(CameraState.STARTING, None, time.time())
        self.last_packet_at: float | None = None
        self.packets = 0
        self.dropped = 0
        self.connects = 0
        self.generation_base = 0  # raised when its process restarts
        self.generation = 0  # the last one published
        self.link: WorkerLink | None = None
        self.slot = 0
        self._counted = (0, 0, 0)  # the counters of the process before its restart

    def __repr__(self) -> str:
        return f"<RemoteIngest {self.camera_id!r} {self.safe_url} {self.status.state.value}>"

    def current_status(self) -> CameraStatus:
        return dataclasses.replace(self.status, last_packet_at=self.last_packet_at)

    def _update(self, report: dict[str, Any]) -> None:
        packets, dropped, connects = self._counted
        status = report["status"]
        if not (status.state == CameraState.STARTING and self.status.state == CameraState.RECONNECTING):
            self.status = status  # (a new process's "starting" does not hide why the camera is reconnecting)
        self.last_packet_at = max(filter(None, (report["last_packet_at"], self.last_packet_at)), default=None)
        self.packets = packets + report["packets"]
        self.dropped = dropped + report["dropped"]
        self.connects = connects + report["connects"]

    def _process_lost(self, reason: str) -> None:
        self._counted = (self.packets, self.dropped, self.connects)
        self.generation_base = self.generation
        was_up = self.status.state in (CameraState.ONLINE, CameraState.RECONNECTING)
        state = CameraState.RECONNECTING if was_up else CameraState.OFFLINE
        self.status = CameraStatus(state, reason, time.time(), self.last_packet_at, self.status.attempts)


class WorkerLink(asyncio.Protocol):
    """One ingest process: its socket, its cameras by slot, its restarts."""

    def __init__(self, pool: IngestPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.cameras: dict[int, RemoteIngest] = {}
        self.transport: asyncio.Transport | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.started_at = 0.0
        self.restarts = 0
        self._reader = wire.FrameReader()
        self._pending: list[bytes] = []  # frames written before the socket is connected
        self._next_slot = 1

    def __repr__(self) -> str:
        return f"<WorkerLink {self.index} pid={self.pid} cameras={len(self.cameras)}>"

    # --- commands ------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        else:
            self._pending.append(data)

    def attach(self, camera: RemoteIngest) -> None:
        slot = self._next_slot
        self._next_slot += 1
        camera.link, camera.slot = self, slot
        frame = self._start_frame(camera)  # fails before the camera is registered, if it fails
        self.cameras[slot] = camera
        self.send(frame)

    def detach(self, camera: RemoteIngest) -> None:
        if self.cameras.pop(camera.slot, None) is not None:
            self.send(wire.frame(wire.K_STOP, camera.slot))

    def _start_frame(self, camera: RemoteIngest) -> bytes:
        return wire.frame_obj(wire.K_START, camera.slot, (camera.camera_id, camera.source, camera.settings))

    # --- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # uvloop's transports are not asyncio.Transport
        self.transport = transport
        pending, self._pending = self._pending, []
        for data in pending:
            transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            for kind, slot, payload in self._reader.feed(data):
                try:
                    self._handle(kind, slot, payload)
                except Exception:
                    log.exception("ingest process %d: frame of kind %d for slot %d", self.index, kind, slot)
        except wire.WireError as exc:
            log.error("ingest process %d sent garbage (%s): restarting it", self.index, exc)
            if self.process is not None and self.process.returncode is None:
                self.process.kill()
            assert self.transport is not None
            self.transport.abort()

    def _handle(self, kind: int, slot: int, payload: memoryview) -> None:
        if kind == wire.K_PACKET:
            camera = self.cameras.get(slot)
            if camera is None:
                return  # stopped meanwhile
            pts, dts, arrival, generation, keyframe, data = wire.unpack_packet(payload)
            generation += camera.generation_base
            camera.generation = generation
            camera.last_packet_at = time.time()
            camera.publish(MediaPacket(data, pts, dts, TIME_BASE, keyframe, arrival, generation))
        elif kind == wire.K_INFO:
            camera = self.cameras.get(slot)
            if camera is not None:
                camera.set_stream_info(pickle.loads(payload))
        elif kind == wire.K_STATUS:
            camera = self.cameras.get(slot)
            if camera is not None:
                camera._update(pickle.loads(payload))
        elif kind == wire.K_LOG:
            name, level, message, extra = pickle.loads(payload)
            logging.getLogger(name).log(level, "%s", message, extra=extra)
        elif kind == wire.K_READY:
            self.pid = pickle.loads(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._reader = wire.FrameReader()
        self.pool._lost(self)

    def eof_received(self) -> bool:
        return False


class IngestPool:
    """N ingest processes, restarted when they die; cameras spread over them."""

    def __init__(self, processes: int, *, python: str = sys.executable, rng: random.Random | None = None) -> None:
        if processes < 1:
            raise ValueError("an ingest pool needs at least one process")
        self.python = python
        self.rng = rng or random.Random()
        self.links = [WorkerLink(self, i) for i in range(processes)]
        self.closing = False
        self._tasks: set[asyncio.Task] = set()

    def __repr__(self) -> str:
        return f"<IngestPool {self.links}>"

    def add(
        self,
        camera_id: str,
        source: StreamSource,
        settings: IngestSettings,
        publish: Callable[[MediaPacket], None],
        set_stream_info: Callable[[StreamInfo], None],
    ) -> RemoteIngest:
        camera = RemoteIngest(camera_id, source, settings, publish, set_stream_info)
        min(self.links, key=lambda link: len(link.cameras)).attach(camera)
        return camera

    def remove(self, camera: RemoteIngest) -> None:
        if camera.link is not None:
            camera.link.detach(camera)
            camera.link = None
        camera.status = CameraStatus(CameraState.OFFLINE, "stopped", time.time(), camera.last_packet_at)

    def describe(self) -> list[dict[str, Any]]:
        """Each ingest process: its pid, how many camera streams it holds, how often it was restarted."""
        now = time.monotonic()
        return [
            {
                "index": link.index,
                "pid": link.pid,
                "running": link.transport is not None,
                "streams": len(link.cameras),
                "restarts": link.restarts,
                "up_s": round(now - link.started_at, 1) if link.started_at else None,
            }
            for link in self.links
        ]

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(link) for link in self.links))

    async def _spawn(self, link: WorkerLink) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            link.process = await asyncio.create_subprocess_exec(
                # -P: the server's working directory must not shadow our modules
                self.python, "-P", "-m", "core.media.ingest_worker", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child's copy is the only one left: its death is our end of file
        link.started_at = time.monotonic()
        link.pid = link.process.pid
        # re-send every camera it had (none on the first start; the pending START frames go first)
        link._pending = [link._start_frame(c) for c in link.cameras.values()] if link.restarts else link._pending
        await loop.connect_accepted_socket(lambda: link, ours)
        if link.restarts:
            log.info("ingest process %d restarted (pid %d, %d cameras)", link.index, link.pid, len(link.cameras))

    def _lost(self, link: WorkerLink) -> None:
        if self.closing:
            return
        task = asyncio.get_running_loop().create_task(self._restart(link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart(self, link: WorkerLink) -> None:
        process = link.process
        code: int | None = None
        if process is not None:
            try:
                code = await asyncio.wait_for(process.wait(), 2.0)
            except asyncio.TimeoutError:
                process.kill()
                code = await process.wait()
        reason = f"ingest process exited (code {code}); restarting it"
        log.error("ingest process %d (pid %s) exited with code %s: restarting it with %d cameras",
                  link.index, link.pid, code, len(link.cameras))  # fmt: skip
        for camera in link.cameras.values():
            camera._process_lost(reason)
        up_for = time.monotonic() - link.started_at
        if up_for >= HEALTHY_AFTER_S:
            link.restarts = 0
        link.restarts += 1
        delay = min(RESTART_CAP_S, RESTART_BASE_S * 2 ** (link.restarts - 1)) if link.restarts > 1 else 0.0
        await asyncio.sleep(self.rng.uniform(0, delay) if delay else 0)
        if self.closing:
            return
        try:
            await self._spawn(link)
        except Exception as exc:
            log.error("ingest process %d could not start: %s", link.index, exc)
            link.started_at = time.monotonic()  # a failed start is not a healthy minute: keep backing off
            link.connection_lost(exc)  # try again, later

    async def close(self, timeout: float = 3.0) -> None:
        """Stop every process: closing its socket ends it; killed if it lingers."""
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        for link in self.links:
            if link.transport is not None:
                link.transport.close()
        for link in self.links:
            process = link.process
            if process is None or process.returncode is not None:
                continue
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except asyncio.TimeoutError:
                log.warning("ingest process %d did not end within %g s: killed", link.index, timeout)
                process.kill()
                await process.wait()
