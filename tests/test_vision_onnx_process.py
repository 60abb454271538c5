"""``[plugins.vision_onnx] isolation = "process"``: the default model in a detector process of its own.

Real frames of Debian's ``vtest.avi`` through the default model, as set-up
builds it, in both isolations: the same detections, a worker killed with
SIGKILL restarted with its in-flight callers told why, a missing model down
in both without a restart loop, and nothing left in ``/dev/shm`` after close.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from core.analytics.detector import Detector, FramesDropped
from core.app import create_app
from core.config import ConfigErrors, load_file
from core.plugin_host import load_plugins
from plugins.vision_onnx import default_model as dm
from plugins.vision_onnx.config import DEFAULT_MODEL, Config
from plugins.vision_onnx.detector import OnnxDetector
from plugins.vision_onnx.model import ModelError
from support.appclient import bearer_headers, running

MODEL = dm.SHARED_DATA / DEFAULT_MODEL


@pytest.fixture(scope="module")
def frames():
    video = dm.vtest_path()
    if video is None or not MODEL.is_file():
        pytest.fail(f"{dm.VTEST} or {MODEL} missing: scripts/setup.sh installs and builds them")
    return dm.read_frames(video, every=150, limit=3)


def our_segments() -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"bcd{os.getpid()}-")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def detect_all(det: OnnxDetector, frames) -> list[list[tuple]]:
    found = await asyncio.gather(*(det.detect([f]) for f in frames))  # one caller per camera: batched together
    return [[(d.label, round(d.score, 4), *(round(v, 2) for v in d.box)) for d in dets[0]] for dets in found]


async def test_both_isolations_find_the_same_objects_and_the_process_leaves_nothing_behind(frames):
    found = {}
    for isolation in ("thread", "process"):
        # tiles forced: the tiling and merging run in the worker too
        det = OnnxDetector(Config(providers=["cpu"], isolation=isolation, tiles=(2, 2)), MODEL)
        await asyncio.to_thread(det.start)
        try:
            found[isolation] = await detect_all(det, frames)
            health = det.health()
            assert health["status"] == "ok" and health["isolation"] == isolation and health["frames"] == 3
        finally:
            await asyncio.to_thread(det.close)
    assert found["process"] == found["thread"]
    assert sum(len(f) for f in found["thread"]) >= 10  # vtest.avi: people walking, parked cars
    worker = health["worker"]
    assert worker["state"] == "running" and worker["restarts"] == 0 and not alive(worker["pid"])  # closed: gone
    assert our_segments() == []


async def test_a_killed_worker_is_restarted_and_its_in_flight_callers_get_the_reason(frames):
    det = OnnxDetector(Config(providers=["cuda", "cpu"], isolation="process"), MODEL)
    await asyncio.to_thread(det.start)
    try:
        assert isinstance(det, Detector)
        report = det.health()  # the provider the worker loaded, and why not the GPU's
        assert report["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
        if report["provider"] == "CPUExecutionProvider":
            assert report["fallback"].startswith("CUDAExecutionProvider ") and report["fallback"].endswith(
                "using CPUExecutionProvider")
        before = await detect_all(det, frames[:1])
        pid = det.process.pid
        assert os.getsid(pid) == os.getsid(0) != pid  # the server's session, hence its CPU group
        # every thread of it (the model's, ONNX Runtime's pool) at analytics priority: nice +10 over the server's
        niceness = {os.getpriority(os.PRIO_PROCESS, int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}
        assert niceness == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)}
        os.kill(pid, signal.SIGSTOP)  # holds the batch below in flight
        call = asyncio.ensure_future(det.detect([frames[0]]))
        await asyncio.to_thread(wait_until, lambda: det.process._busy is not None)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(FramesDropped) as err:
            await asyncio.wait_for(call, 10)
        assert str(err.value) == f"detector process (pid {pid}) exited with code -9 during inference: frame dropped"
        await asyncio.to_thread(wait_until, lambda: det.process.state == "running")
        assert await detect_all(det, frames[:1]) == before  # the next batch goes to the new worker
        worker = det.health()["worker"]
        assert worker["restarts"] == 1 and worker["last_exit"] == "exited with code -9" and worker["pid"] != pid
        assert det.batcher.stats.failed == 1 and not alive(pid)
    finally:
        await asyncio.to_thread(det.close)
    assert our_segments() == [] and not alive(worker["pid"])


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_with_the_idle_policy_the_worker_infers_at_sched_idle_in_the_servers_group(frames, monkeypatch):
    from core.media import frame_decode

    monkeypatch.setattr(frame_decode, "FRAME_POLICY", None)
    monkeypatch.setattr(frame_decode, "POLICY_NAME", "nice")
    frame_decode.set_thread_policy("idle")  # [analytics] thread_policy = "idle": a dedicated server
    det = OnnxDetector(Config(providers=["cpu"], isolation="process"), MODEL)
    await asyncio.to_thread(det.start)
    try:
        assert await detect_all(det, frames[:1])  # it answers
        pid = det.process.pid
        assert os.getsid(pid) == os.getsid(0) != pid  # the server's session, hence its CPU group
        policies = {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}
        assert policies == {os.SCHED_IDLE}  # the model's thread, ONNX Runtime's pool, numpy's: all of them
    finally:
        await asyncio.to_thread(det.close)


async def test_health_is_degraded_while_the_worker_restarts(frames):
    det = OnnxDetector(Config(providers=["cpu"], isolation="process"), MODEL)
    await asyncio.to_thread(det.start)
    try:
        assert det.health()["status"] == "ok"
        # the state the supervisor holds between a crash and the new worker's model (too short to catch live)
        det.process.state, det.process.last_exit = "restarting", "exited with code -9"
        health = det.health()
        assert health["status"] == "degraded"
        assert health["reason"] == "detector process restarting after it exited with code -9"
        det.process.state = "running"
        assert det.health()["status"] == "ok" and "reason" not in det.health()
    finally:
        await asyncio.to_thread(det.close)


async def test_a_worker_that_does_not_answer_is_killed_and_restarted(frames):
    det = OnnxDetector(Config(providers=["cpu"], isolation="process"), MODEL)
    await asyncio.to_thread(det.start)
    try:
        det.process.answer_timeout_s = 0.5  # 60 s in service
        pid = det.process.pid
        os.kill(pid, signal.SIGSTOP)  # stuck, not dead
        with pytest.raises(FramesDropped, match=rf"^detector process \(pid {pid}\) did not answer in 0.5 s: killed"):
            await asyncio.wait_for(det.detect([frames[0]]), 10)
        await asyncio.to_thread(wait_until, lambda: det.process.state == "running" and det.process.pid != pid)
        assert len((await det.detect([frames[0]]))[0]) > 0
        assert det.health()["worker"]["last_exit"] == "exited with code -9"
    finally:
        await asyncio.to_thread(det.close)


async def test_a_missing_model_is_down_in_both_isolations_without_a_restart_loop(tmp_path):
    reports = {}
    for isolation in ("thread", "process"):
        det = OnnxDetector(Config(providers=["cpu"], isolation=isolation), tmp_path / "nope.onnx")
        try:
            with pytest.raises(ModelError, match="does not exist"):
                await det.detect([dm.np.zeros((90, 160, 3), dm.np.uint8)])
            reports[isolation] = det.health()
        finally:
            await asyncio.to_thread(det.close)
    worker = reports["process"].pop("worker")
    assert worker["state"] == "down" and worker["restarts"] == 0 and not alive(worker["pid"])
    assert {**reports["process"], "isolation": "thread"} == reports["thread"]
    assert reports["thread"]["status"] == "down" and "nope.onnx" in reports["thread"]["reason"]


def test_isolation_is_thread_or_process(make_deployment):
    assert Config().isolation == "process"  # the default: measured better for viewers' p99 (docs/analytics.md)
    d = make_deployment('[plugins.vision_onnx]\nisolation = "container"\n')
    with pytest.raises(ConfigErrors) as err:
        load_plugins(load_file(d.path))
    line = next(e for e in str(err.value).splitlines() if "isolation" in e)
    assert "plugins.vision_onnx.isolation" in line and "'thread' or 'process'" in line


async def test_the_plugin_in_process_isolation_reports_its_worker_and_stops_it(make_deployment, frames):
    d = make_deployment(f'[plugins.vision_onnx]\nmodel = "{MODEL}"\nisolation = "process"\nproviders = ["cpu"]\n')
    app = create_app(load_file(d.path))
    [(_, det)] = app.state.services.plugins.detectors()
    async with running(app) as client:
        [found] = await det.detect([frames[0]])
        assert any(x.label == "person" for x in found)
        response = await client.get("/api/health", headers=await bearer_headers())
        report = response.json()["plugins"]["vision_onnx"]["report"]
        assert report["isolation"] == "process" and report["provider"] == "CPUExecutionProvider"
        worker = report["worker"]
        assert worker["state"] == "running" and alive(worker["pid"]) and worker["last_exit"] is None
    assert not alive(worker["pid"]) and our_segments() == []  # the plugin's shutdown stopped it
