"""The frame hub with ``decode = "process"``: a real RTSP camera decoded in the frame worker process.

The worker runs in the server's session (so its CPU group), its decode threads at nice +10, or at
``SCHED_IDLE`` with ``thread_policy = "idle"``, and reads the packets the server already holds (the
camera is pulled once); pictures come back through shared memory. A killed worker is
restarted, its frames resume, and the gap counts as dropped analytics frames, shown in health.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from core.media.frames import FrameHub
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)
from test_frames import camera, registry, take  # noqa: F401  (registry: fixture)

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]


async def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_frames_arrive_through_the_worker_process(registry, rtsp_server):  # noqa: F811
    rt = registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry, decode="process")
    a = hub.subscribe("c1", "a", fps=5)
    b = hub.subscribe("c1", "b", fps=5)
    fa, fb = await asyncio.gather(take(a, 12), take(b, 12))
    assert np.median(np.diff([f.pts_s for f in fa[3:]])) == pytest.approx(0.2, abs=0.01)  # 5 fps of 25
    assert all(x is y for x, y in zip(fa[3:], fb[3:]))  # one decode, shared
    f = fa[-1]
    assert (f.width, f.height) == (640, 360) and f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8
    assert not f.image.flags.writeable
    assert f.image.std() > 5  # a real picture, not an empty slot
    assert abs(time.time() - f.wall.timestamp()) < 5 and f.detect in (True, False)
    described = hub.describe("c1")
    worker = described["worker"]
    assert worker["state"] == "running" and worker["pid"] not in (None, os.getpid())
    assert os.getsid(worker["pid"]) == os.getsid(0)  # the server's session, hence its CPU group
    assert described["decoded"] >= 12 and described["width"] == 640
    assert rt.mux.subscriber_count == 1  # the server's packets, forwarded: no second pull of the camera
    segment = hub.sources["c1"].decoder.segment
    assert segment and segment in hub.process._slots.names()
    a.close()
    b.close()
    c = hub.subscribe("c1", "c", fps=5)  # a camera started again: its pictures come through a new segment
    await take(c, 3)
    assert segment not in hub.process._slots.names()  # the stopped one's was unmapped
    c.close()
    pid = worker["pid"]
    hub.close()
    await wait_for(lambda: not _alive(pid), 10)  # closing the hub ends the worker


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_with_the_idle_policy_the_worker_decodes_at_sched_idle_in_the_servers_group(registry, rtsp_server, monkeypatch):  # noqa: F811
    from core.media import frame_decode

    monkeypatch.setattr(frame_decode, "FRAME_POLICY", None)
    monkeypatch.setattr(frame_decode, "POLICY_NAME", "nice")
    frame_decode.set_thread_policy("idle")  # [analytics] thread_policy = "idle": a dedicated server
    registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry, decode="process")
    try:
        a = hub.subscribe("c1", "a", fps=5)
        await take(a, 3)
        pid = hub.describe("c1")["worker"]["pid"]
        assert os.getsid(pid) == os.getsid(0)  # the server's session, hence its CPU group
        policies = {int(t): os.sched_getscheduler(int(t)) for t in os.listdir(f"/proc/{pid}/task")}
        assert policies[pid] == os.SCHED_OTHER  # its main thread, which reads the server's packets
        assert os.SCHED_IDLE in policies.values()  # the camera's decode thread
        a.close()
    finally:
        hub.close()


async def test_a_killed_worker_is_restarted_and_the_gap_counts_as_drops(registry, rtsp_server):  # noqa: F811
    registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    drops: list[int] = []
    hub = FrameHub(registry, decode="process", on_drop=lambda camera_id, n: drops.append(n))
    s = hub.subscribe("c1", "a", fps=5)
    before = await take(s, 5)
    pid = hub.describe("c1")["worker"]["pid"]
    dropped_before = hub.describe("c1")["dropped"]
    os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: hub.describe("c1")["worker"]["restarts"] >= 1)
    after = await take(s, 8)  # frames resume from the new worker
    assert after[-1].pts_s > before[-1].pts_s and after[-1].seq > before[-1].seq
    worker = hub.describe("c1")["worker"]
    assert worker["pid"] != pid and worker["state"] == "running"
    assert worker["last_exit"] == f"exited with code {-signal.SIGKILL}"
    described = hub.describe("c1")
    assert described["dropped"] > dropped_before  # the gap: frames due while no worker decoded
    assert described["dropped"] == sum(drops)  # every loss reached the per-camera counter (/metrics)
    s.close()
    hub.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_unknown_decode_mode_is_refused():
    with pytest.raises(ValueError, match="decode must be 'thread' or 'process'"):
        FrameHub(None, decode="gpu")
