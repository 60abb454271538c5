"""A camera whose encoder hangs while its RTSP session lives on: lost, said why, and taken again.

The real GStreamer RTSP server stops its pictures (``RtspServer.freeze``) and
keeps the session: RTCP reports and keep-alive answers still arrive on the
ingest's sockets, so FFmpeg's socket timeout never fires. The stall timeout
here (8 s) is longer than those reports' interval (about 5 s), as the
production default (10 s) is; before the stall watch such a camera stayed
"online" with a frozen picture for as long as the session lasted.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from support.media import take
from support.waiting import poll, wait_for

from core.interfaces import CameraInfo, StreamSource
from core.media import blocked_read
from core.media.ingest_settings import IngestSettings
from core.media.packets import CameraState
from core.media.registry import CameraRegistry
from core.testing.rtsp import DEFAULT_MOUNTS, RtspServer

pytestmark = pytest.mark.skipif(not blocked_read.supported(), reason="needs Linux's /proc/self/task/TID/syscall")

SETTINGS = IngestSettings(open_timeout_s=6, stall_timeout_s=8, backoff_base_s=1.0, backoff_cap_s=2.0, offline_after_s=30)


@pytest.fixture
def server() -> Iterator[RtspServer]:
    srv = RtspServer(mounts={"h264_gop1": DEFAULT_MOUNTS["h264_gop1"]}).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(("transport", "processes"), [("tcp", 0), ("udp", 0), ("tcp", 1)],
                         ids=["tcp", "udp", "tcp-ingest-process"])
async def test_a_hung_encoder_is_a_stall_and_the_camera_is_taken_again_when_it_recovers(server, transport, processes):
    registry = CameraRegistry(settings=SETTINGS, ingest_processes=processes)
    await registry.start()
    try:
        source = StreamSource(server.url("h264_gop1"), transport=transport)
        rt = registry.add(CameraInfo("cam", "Cam", "pemkot", "test", source))
        sub = rt.mux.subscribe("viewer", maxsize=4096, start="live")
        await take(sub, 10, 15)
        server.freeze()
        frozen_at = time.monotonic()
        lost = await wait_for(lambda: rt.status.state != CameraState.ONLINE and rt.status, 15, "the hung encoder to be noticed")
        noticed_after = time.monotonic() - frozen_at
        assert lost.state == CameraState.RECONNECTING
        assert lost.reason == "stalled: no video for 8 s (the camera kept the connection open)"
        assert 7.5 <= noticed_after <= 11.0, noticed_after  # the stall timeout and at most one look of the watch
        if not processes:  # (in an ingest process the same CameraIngest and watch run in the child)
            assert rt.ingest.woken == 1

        server.thaw()
        await wait_for(lambda: rt.status.state == CameraState.ONLINE, 20, "online again after the thaw")
        assert rt.ingest.connects == 2 and rt.status.reason is None
        latest = (await take(sub, sub.queued + 5, 10))[-1]  # what came before the freeze, then more
        assert latest.generation == 2  # a new connection, not the old session resuming
    finally:
        await registry.stop()


async def test_stopping_a_camera_whose_encoder_hung_ends_its_thread(server):
    registry = CameraRegistry(settings=IngestSettings(stall_timeout_s=60))  # the watch will not call it a stall
    await registry.start()
    rt = registry.add(CameraInfo("cam", "Cam", "pemkot", "test", StreamSource(server.url("h264_gop1"))))
    sub = rt.mux.subscribe("viewer", maxsize=4096, start="live")
    await take(sub, 5, 15)
    server.freeze()
    await asyncio.sleep(1.0)  # the thread now waits in FFmpeg for a packet that will not come
    thread = rt.ingest._thread
    started = time.monotonic()
    await registry.stop()
    took = time.monotonic() - started
    assert not thread.is_alive(), "the ingest thread is still blocked in its read"
    assert took < 3.5 and rt.ingest.woken == 1
    assert rt.status.state == CameraState.OFFLINE and rt.status.reason == "stopped"


# --- the wake itself, on threads of this process -------------------------------------------------------------------


def _blocked_thread(target) -> tuple[threading.Thread, int]:
    ids: list[int] = []

    def run() -> None:
        ids.append(threading.get_native_id())
        target()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    tid = poll(lambda: ids and ids[0], 5)
    time.sleep(0.2)  # into its wait
    return thread, tid


def test_wake_shuts_the_stream_sockets_a_thread_polls_and_lets_it_return():
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    e, f = socket.socketpair()  # not polled
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    returned: list[list] = []
    try:
        waiter = select.poll()
        for sock in (a, udp, c):
            waiter.register(sock, select.POLLIN)
        thread, tid = _blocked_thread(lambda: returned.append(waiter.poll(30_000)))
        assert blocked_read.wake(tid) == 2
        thread.join(2)
        assert not thread.is_alive() and returned and returned[0]
        assert a.recv(1) == b"" and c.recv(1) == b""  # shut down: the end of the stream to a reader
        f.sendall(b"x")
        assert e.recv(1) == b"x"  # a descriptor the thread did not poll is left alone
        udp.sendto(b"u", udp.getsockname())
        assert udp.recv(1) == b"u"  # and so is a datagram socket it did (FFmpeg would spin on a shut one)
        assert blocked_read.wake(tid) == 0  # the thread has ended
    finally:
        for sock in (a, b, c, d, e, f, udp):
            sock.close()


def test_wake_leaves_a_thread_that_is_not_waiting_on_sockets_alone():
    a, b = socket.socketpair()
    stop = threading.Event()
    try:
        sleeper, tid = _blocked_thread(lambda: stop.wait(30))  # a futex wait, not poll
        assert blocked_read.wake(tid) == 0
        selector, tid2 = _blocked_thread(lambda: select.select([a], [], [], 30))  # select(2), not poll(2)
        assert blocked_read.wake(tid2) == 0
        b.sendall(b"y")
        assert a.recv(1) == b"y"  # untouched
        selector.join(2)
    finally:
        stop.set()
        a.close()
        b.close()
    assert blocked_read.wake(None) == 0
