"""Ingest in a child process: packets arrive intact, a crashed process is restarted, none outlives the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support.media import take, write_test_video
from support.waiting import poll, wait_for

from core.interfaces import CameraInfo, StreamSource
from core.media import wire
from core.media.ingest_settings import IngestSettings
from core.media.packets import CameraState, MediaPacket
from core.media.registry import CameraRegistry

FAST = IngestSettings(open_timeout_s=8, stall_timeout_s=4, backoff_base_s=0.2, backoff_cap_s=1.0, offline_after_s=2)


def camera(cid: str, path) -> CameraInfo:
    return CameraInfo(cid, cid.upper(), "pemkot", "test", StreamSource(str(path), realtime_loop=True))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0] != "Z"


@pytest.fixture
def clip(tmp_path):
    return write_test_video(tmp_path / "cam.mp4", seconds=2.0, gop=25)


async def test_packets_from_the_ingest_process_match_in_process_ingest(clip):
    """The same file through threads and through a process gives the same bytes and timestamps."""
    got = {}
    for processes in (0, 1):
        reg = CameraRegistry(settings=FAST, ingest_processes=processes)
        await reg.start()
        try:
            rt = reg.add(camera("cam", clip))
            sub = rt.mux.subscribe("test", maxsize=1024, start="gop")
            packets = await take(sub, 50, 15)  # one pass of the file: 2 s at 25 fps
            got[processes] = packets
            assert rt.mux.stream_info is not None and (rt.mux.stream_info.width, rt.mux.stream_info.height) == (320, 240)
            assert rt.status.state == CameraState.ONLINE
        finally:
            await reg.stop()
    threads, process = got[0], got[1]
    assert [p.data for p in process] == [p.data for p in threads]
    assert [(p.pts, p.dts, p.keyframe) for p in process] == [(p.pts, p.dts, p.keyframe) for p in threads]
    assert all(p.arrival <= time.monotonic() for p in process)


async def test_a_killed_ingest_process_is_restarted_and_viewers_carry_on(clip):
    reg = CameraRegistry(settings=FAST, ingest_processes=1)
    await reg.start()
    try:
        rt = reg.add(camera("cam", clip))
        sub = rt.mux.subscribe("viewer", maxsize=4096, start="gop")
        before = await take(sub, 10, 15)
        link = reg.pool.links[0]
        old_pid = await wait_for(lambda: link.pid, what="the ingest process's pid")
        os.kill(old_pid, signal.SIGKILL)

        down = await wait_for(
            lambda: rt.status.state in (CameraState.RECONNECTING, CameraState.OFFLINE) and rt.status, 10,
            "the camera to show its ingest process is gone",
        )
        assert "ingest process exited (code -9)" in down.reason
        await wait_for(lambda: rt.status.state == CameraState.ONLINE, 15, "the camera to come back online")
        assert link.pid != old_pid and alive(link.pid)
        assert not alive(old_pid)
        [process] = reg.ingest_health()["processes"]
        assert (process["pid"], process["restarts"], process["streams"], process["running"]) == (link.pid, 1, 1, True)

        # the same subscription goes on, on a new generation that starts at a keyframe
        after = [p for p in await take(sub, 60, 15) if p.generation > before[-1].generation]
        assert after and after[0].keyframe
        assert rt.ingest.connects >= 2
    finally:
        await reg.stop()
    assert not alive(link.pid)


async def test_stopping_a_camera_stops_only_its_ingest(clip, tmp_path):
    other = write_test_video(tmp_path / "other.mp4", seconds=2.0)
    reg = CameraRegistry(settings=FAST, ingest_processes=1)
    await reg.start()
    try:
        a = reg.add(camera("a", clip))
        b = reg.add(camera("b", other))
        await wait_for(lambda: a.status.state == b.status.state == CameraState.ONLINE, 15, "both cameras online")
        await reg.remove("a")
        assert a.status.state == CameraState.OFFLINE and a.status.reason == "stopped"
        sub = b.mux.subscribe("viewer", maxsize=256, start="live")
        assert len(await take(sub, 25, 10)) == 25  # b keeps streaming
    finally:
        await reg.stop()


def test_the_ingest_process_ends_when_the_server_dies(tmp_path, clip):
    """SIGKILL the server: its ingest process sees the socket close and exits; no orphan keeps reading cameras."""
    script = tmp_path / "server.py"
    script.write_text(
        "import asyncio, sys\n"
        "from core.interfaces import CameraInfo, StreamSource\n"
        "from core.media.registry import CameraRegistry\n"
        "async def main():\n"
        "    reg = CameraRegistry(ingest_processes=1)\n"
        "    await reg.start()\n"
        f"    reg.add(CameraInfo('c', 'C', 'pemkot', 't', StreamSource({str(clip)!r}, realtime_loop=True)))\n"
        "    while not reg.pool.links[0].pid:\n"
        "        await asyncio.sleep(0.05)\n"
        "    print(reg.pool.links[0].pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(server.stdout.readline())
        assert alive(worker)
        server.kill()
        server.wait(5)
        assert poll(lambda: not alive(worker), 10), "the ingest process outlived its server"
    finally:
        server.kill()


def test_frames_survive_any_split_of_the_byte_stream():
    pkt = MediaPacket(b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 40, None, 3000, None, True, 12.25, 3)  # type: ignore[arg-type]
    stream = wire.packet_header(7, pkt) + pkt.data + wire.frame_obj(wire.K_STATUS, 7, {"x": 1}) + wire.frame(wire.K_STOP, 70_000)
    for step in (1, 7, 13, 4096, len(stream)):
        reader = wire.FrameReader()
        frames = []
        for i in range(0, len(stream), step):
            frames += [(kind, slot, bytes(payload)) for kind, slot, payload in reader.feed(stream[i : i + step])]
        assert [(k, s) for k, s, _ in frames] == [(wire.K_PACKET, 7), (wire.K_STATUS, 7), (wire.K_STOP, 70_000)]  # slots are never reused
        pts, dts, arrival, generation, keyframe, data = wire.unpack_packet(memoryview(frames[0][2]))
        assert (pts, dts, arrival, generation, keyframe, data) == (None, 3000, 12.25, 3, True, pkt.data)
        assert frames[2][2] == b""


def test_a_corrupt_stream_is_refused_not_buffered_without_end():
    reader = wire.FrameReader()
    with pytest.raises(wire.WireError):
        list(reader.feed(wire.HEADER.pack(wire.K_PACKET, 1, wire.MAX_PAYLOAD + 1) + b"x"))


async def test_an_ingest_process_that_sends_garbage_is_replaced(clip):
    reg = CameraRegistry(settings=FAST, ingest_processes=1)
    await reg.start()
    try:
        rt = reg.add(camera("cam", clip))
        await wait_for(lambda: rt.status.state == CameraState.ONLINE, 15, "the camera online")
        link = reg.pool.links[0]
        old_pid = link.pid
        link.data_received(wire.HEADER.pack(wire.K_PACKET, 1, wire.MAX_PAYLOAD + 1))  # as if the process wrote it
        await wait_for(lambda: link.pid != old_pid and rt.status.state == CameraState.ONLINE, 15,
                       "a new ingest process with the camera back online")
        assert not alive(old_pid)
    finally:
        await reg.stop()


async def test_a_camera_is_online_before_its_first_packet_arrives(clip):
    """The state change travels ahead of the packets, so nobody sees video from a camera said to be starting."""
    reg = CameraRegistry(settings=FAST, ingest_processes=1)
    await reg.start()
    try:
        seen = []
        rt = reg.add(camera("cam", clip))
        publish = rt.ingest.publish

        def spy(packet: MediaPacket) -> None:
            seen.append((rt.status.state, rt.status.last_packet_at))
            publish(packet)

        rt.ingest.publish = spy
        await wait_for(lambda: seen, 15, "a packet")
        state, last_packet_at = seen[0]
        assert state == CameraState.ONLINE and last_packet_at is not None
    finally:
        await reg.stop()


def test_outbox_keeps_each_cameras_frames_whole_and_in_order_when_the_socket_is_full():
    """Four camera threads write while the server reads nothing: frames queue, the queue is bounded, no frame tears."""
    import socket
    import struct
    import threading

    from core.media.ingest_worker import Outbox

    ours, theirs = socket.socketpair()
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    outbox = Outbox(theirs, max_packets=50)
    writer = threading.Thread(target=outbox.run, daemon=True)
    writer.start()
    refused = []

    def camera(slot: int) -> None:
        for seq in range(300):
            data = struct.pack("<II", slot, seq) + bytes([seq % 251]) * (1000 + 37 * seq)
            pkt = MediaPacket(data, seq * 3600, seq * 3600, None, seq % 30 == 0, time.monotonic(), 1)  # type: ignore[arg-type]
            if not outbox.put([wire.packet_header(slot, pkt), pkt.data], packet=True):
                refused.append((slot, seq))

    threads = [threading.Thread(target=camera, args=(slot,)) for slot in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert refused, "a server that reads nothing must make the bounded outbox refuse packets"

    reader = wire.FrameReader()
    got: dict[int, list[int]] = {}
    ours.settimeout(2)
    try:
        while True:
            data = ours.recv(1 << 16)
            if not data:
                break
            for kind, slot, payload in reader.feed(data):
                assert kind == wire.K_PACKET
                *_, body = wire.unpack_packet(payload)
                body_slot, seq = struct.unpack_from("<II", body)
                assert body_slot == slot and body[8:] == bytes([seq % 251]) * (1000 + 37 * seq)  # whole, untorn
                got.setdefault(slot, []).append(seq)
    except TimeoutError:
        pass
    finally:
        outbox.close()
        ours.close()
        theirs.close()
    for slot, seqs in got.items():
        assert seqs == sorted(seqs), f"camera {slot}'s frames out of order"
    delivered = sum(len(v) for v in got.values())
    assert delivered + len(refused) == 4 * 300  # every frame either arrived whole or was refused, none lost silently
