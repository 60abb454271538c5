"""Analyzers in a real app: collected from plugins, fed frames of a real RTSP camera, contained when they fail.

One test plugin per test registers its analyzers (as a deployment plugin would);
the example analyzer of docs/plugins.md (``plugins/motion_logger``) runs beside them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from support.appclient import bearer_headers, running

from core.analytics.detector import DETECTOR_HOOK
from core.app import create_app
from core.config import load_file
from core.hookspecs import hookimpl
from core.interfaces import Analyzer
from core.media.frame_decode import FRAME_NICE
from core.plugin_host import PluginState, load_plugins
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "plugins" / "motion_logger"


class Raising:
    name = "boom"
    fps = 5.0

    def wants(self, camera):
        return True

    async def process(self, frame, ctx):
        raise RuntimeError(f"cannot read frame {frame.seq}")


class Slow:
    """A CPU-bound analyzer in a thread (a plain def): slower than the frames come."""

    name = "slow"
    fps = 5.0

    def __init__(self) -> None:
        self.frames = 0
        self.threads: set[str] = set()

    def wants(self, camera):
        return camera.id == "cam-1"

    def process(self, frame, ctx):
        self.threads.add(threading.current_thread().name)
        end = time.thread_time() + 0.5
        while time.thread_time() < end:
            hashlib.sha256(frame.image.data).digest()  # CPU-bound with the GIL released, as inference is
        self.frames += 1


class PerCamera:
    """Asks one rate for all cameras (``fps``) and another for cam-1 (the optional ``fps_for``)."""

    name = "per_camera"
    fps = 1.0
    needs_tracks = False

    def wants(self, camera):
        return True

    def fps_for(self, camera):
        return 8.0 if camera.id == "cam-1" else self.fps

    async def process(self, frame, ctx):
        pass


class AnalyzersPlugin:
    def __init__(self) -> None:
        self.slow = Slow()

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(Raising())
        register(self.slow)
        register(PerCamera())
        register(object())  # not an analyzer: refused, reported


def one_camera(make_deployment, rtsp_server, more: str = ""):  # noqa: F811
    """A deployment of one real RTSP camera (``cam-1``), plus ``more`` TOML; its file's path."""
    return make_deployment(f"""
        [[plugins.stream_url.cameras]]
        id = "cam-1"
        name = "Gate"
        url = "{rtsp_server.url('h264_gop1')}"
        agency = "dishub"
        area = "beruang_madu"
        """ + more).path


@pytest.fixture(params=["thread", "process"])
def app_and_plugin(request, make_deployment, rtsp_server):  # noqa: F811
    cfg = load_file(one_camera(make_deployment, rtsp_server, """
        [plugins.motion_logger]
        fps = 2
        """))
    cfg.deployment.analytics.decode = request.param  # the frame hub decodes in a thread, or in its worker process
    host = load_plugins(cfg)
    plugin = AnalyzersPlugin()
    host.pm.register(plugin, name="tests")
    host.states["tests"] = PluginState("tests", None)  # a deployment plugin, as the loader records one
    return create_app(cfg, host=host), plugin


async def test_analyzers_get_frames_and_a_raising_one_is_contained(app_and_plugin):
    app, plugin = app_and_plugin
    switch_before = sys.getswitchinterval()
    async with running(app) as client:
        headers = await bearer_headers()
        runner = app.state.services.analytics
        # while analyzers run, the loop waits at most 1 ms for the GIL behind their threads ([analytics] default)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        assert sorted(a.name for _, a in runner.analyzers) == ["boom", "motion_logger", "per_camera", "slow"]
        assert all(isinstance(a, Analyzer) for _, a in runner.analyzers)
        rates = {r.analyzer.name: r.subscription.fps for r in runner.runs if r.analyzer.name == "per_camera"}
        assert rates["per_camera"] == 8.0  # fps_for, not fps
        assert app.state.services.frames.sources["cam-1"].fps_wanted == 8.0  # the camera decoded at the highest rate asked
        deadline = time.monotonic() + 30
        while plugin.slow.frames < 4:
            assert time.monotonic() < deadline, "the threaded analyzer got no frames"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)

        health = (await client.get("/api/health", headers=headers)).json()
        assert health["status"] == "degraded"
        tests = health["plugins"]["tests"]
        assert tests["status"] == "degraded"
        assert "not an analyzer" in tests["reason"] or "analyzer boom on camera cam-1" in tests["reason"]
        analytics = health["cameras"]["cam-1"]["analytics"]
        assert analytics["stream"] == "main" and analytics["fps"] > 1
        boom = analytics["analyzers"]["boom"]
        assert boom["status"] == "degraded" and boom["errors"] >= 5 and "cannot read frame" in boom["last_error"]
        slow = analytics["analyzers"]["slow"]
        assert slow["status"] == "ok" and slow["processed"] >= 4 and slow["dropped"] > 0  # dropped, never queued
        assert analytics["analyzers"]["motion_logger"]["processed"] > 0
        assert analytics["dropped"] >= slow["dropped"]
        if app.state.services.deployment.analytics.decode == "process":  # decoded in the frame worker process
            assert analytics["worker"]["state"] == "running" and analytics["worker"]["pid"] != os.getpid()
        else:
            assert "worker" not in analytics
        # the example analyzer's frame counter, for operators
        assert health["plugins"]["motion_logger"]["report"]["frames"]["cam-1"] > 0
        assert plugin.slow.threads and all(t.startswith("analyzer-slow") for t in plugin.slow.threads)

        metrics = (await client.get("/metrics", headers=headers)).text
        dropped = re.search(r'bconnect_analytics_frames_dropped_total\{camera="cam-1"\} (\S+)', metrics)
        assert dropped and float(dropped.group(1)) >= slow["dropped"]
        errors = re.search(r'bconnect_analyzer_errors_total\{analyzer="boom",camera="cam-1"\} (\S+)', metrics)
        assert errors and float(errors.group(1)) >= 5
        assert 'bconnect_plugin_errors_total{plugin="tests",where="analyzer boom on camera cam-1"} 1.0' in metrics

        # live view still streams: the camera's packets flow, nothing blocked
        cam = app.state.services.cameras.get("cam-1")
        before = cam.mux.packets
        await asyncio.sleep(1.0)
        assert cam.mux.packets - before >= 15
    assert not app.state.services.frames.sources  # stopped with the app
    assert sys.getswitchinterval() == switch_before  # and Python's own switch interval restored


def test_the_guide_shows_the_shipped_example_analyzer():
    guide = GUIDE.read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", guide, flags=re.S)
    assert ("python", (EXAMPLE / "plugin.py").read_text()) in blocks
    assert ("toml", (EXAMPLE / "plugin.toml").read_text()) in blocks
    code_lines = [line for line in (EXAMPLE / "plugin.py").read_text().splitlines() if line.strip()]
    assert len(code_lines) < 100


class ThreadRecordingDetector:
    """A test detector: one box in the middle of every frame, and the threads it was called on."""

    name = "recording_detector"

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.nice: set[int] = set()

    async def detect(self, frames):
        from core.analytics.detector import Detection

        self.threads.add(threading.current_thread().name)
        self.nice.add(os.getpriority(os.PRIO_PROCESS, 0))  # Linux: the calling thread's
        return [[Detection("car", 0.9, f.shape[1] * 0.4, f.shape[0] * 0.4, f.shape[1] * 0.6, f.shape[0] * 0.6)] for f in frames]

    def info(self):
        from core.analytics.detector import DetectorInfo

        return DetectorInfo("recording", "none", (0, 0))


class WhereAsync:
    """An ``async`` analyzer that reads tracks: where its frames reach it."""

    name = "where_async"
    fps = 5.0

    def __init__(self) -> None:
        self.loops: set[int] = set()
        self.threads: set[str] = set()
        self.nice: set[int] = set()
        self.tracked = 0

    def wants(self, camera):
        return True

    async def process(self, frame, ctx):
        self.loops.add(id(asyncio.get_running_loop()))
        self.threads.add(threading.current_thread().name)
        self.tracked += bool(ctx.tracks)


class WhereThreaded(WhereAsync):
    name = "where_threaded"

    def process(self, frame, ctx):  # a plain def: in a worker thread
        self.threads.add(threading.current_thread().name)
        self.nice.add(os.getpriority(os.PRIO_PROCESS, 0))
        self.tracked += bool(ctx.tracks)


class WhereAnalyticsLoop(WhereAsync):
    """An ``async`` analyzer that asks for the analytics loop and hands work to the server's with ``ctx.submit``."""

    name = "where_analytics_loop"
    analytics_loop = True

    def __init__(self) -> None:
        super().__init__()
        self.submitted_loops: set[int] = set()
        self.futures = []

    async def process(self, frame, ctx):
        await super().process(frame, ctx)
        self.futures.append(ctx.submit(self.on_server()))

    async def on_server(self):
        self.submitted_loops.add(id(asyncio.get_running_loop()))


class WherePlugin:
    def __init__(self) -> None:
        self.detector = ThreadRecordingDetector()
        self.on_loop = WhereAsync()
        self.threaded = WhereThreaded()
        self.analytics = WhereAnalyticsLoop()

    @hookimpl
    def bconnect_register_detectors(self, register):
        register(self.detector)

    @hookimpl
    def bconnect_register_analyzers(self, register):
        register(self.on_loop)
        register(self.threaded)
        register(self.analytics)


async def test_per_frame_steps_run_on_the_analytics_loop_and_async_analyzers_on_the_servers(make_deployment, rtsp_server):  # noqa: F811
    """Live view first: detection, tracking and the threaded analyzers' feeding run on the analytics loop's thread;
    an ``async`` analyzer still runs on the server's loop, with tracks; the analytics loop ends with the app."""
    cfg = load_file(one_camera(make_deployment, rtsp_server))
    host = load_plugins(cfg)
    plugin = WherePlugin()
    host.pm.register(plugin, name="tests")
    host.states["tests"] = PluginState("tests", None)
    host.registered[DETECTOR_HOOK] = host.collect(DETECTOR_HOOK)  # registered after loading: collected again
    app = create_app(cfg, host=host)
    server_loop = asyncio.get_running_loop()
    async with running(app):
        runner = app.state.services.analytics
        thread = runner.loop_thread._thread
        deadline = time.monotonic() + 30
        while plugin.on_loop.tracked < 3 or plugin.threaded.tracked < 3 or plugin.analytics.tracked < 3:
            assert time.monotonic() < deadline, "analyzers got no tracked frames"
            await asyncio.sleep(0.2)
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert not any(n.startswith(("tracking-", "analyze-where_threaded")) for n in names)  # none on the server's loop
        assert "analyze-where_async-cam-1" in names and "analyze-where_analytics_loop-cam-1" not in names
        submitted = list(plugin.analytics.futures)
        assert submitted and all(isinstance(f, concurrent.futures.Future) for f in submitted)  # from another loop
        await asyncio.wait([asyncio.wrap_future(f) for f in submitted], timeout=10)
    assert plugin.detector.threads == {"analytics-loop"}
    assert plugin.on_loop.loops == {id(server_loop)} and plugin.on_loop.threads == {threading.current_thread().name}
    assert plugin.threaded.threads == {"analyzer-where_threaded_0"}
    # analytics_loop = True: the analyzer on the analytics loop; what it submits, on the server's, where services live
    assert plugin.analytics.threads == {"analytics-loop"} and id(server_loop) not in plugin.analytics.loops
    assert plugin.analytics.submitted_loops == {id(server_loop)}
    # behind ingest and live view at the process's niceness + 10, the executors the analytics loop starts too
    # (they inherit its +10, and once went to 19, behind the workers)
    analysis = min(19, os.getpriority(os.PRIO_PROCESS, 0) + FRAME_NICE)
    assert plugin.detector.nice == plugin.threaded.nice == {analysis}
    assert not thread.is_alive()  # stopped with the app
