"""``AnalyzerContext.submit`` and ``InFlight``: an analyzer off the server's loop hands its evidence to that loop,
and a burst of violations keeps its clips.

Real loops and threads: the server's loop is the test's, the analyzer's side a
``LoopThread`` (the analytics loop's class) or a plain thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from core.analytics.in_flight import LIMIT, InFlight
from core.analytics.loop_thread import LoopThread
from core.interfaces import AnalyzerContext, CameraInfo, Frame, StreamSource
from core.media.clip_jobs import new_clip_id
from plugins.crime_watch.analyzer import CrimeAnalyzer
from plugins.crime_watch.config import Config
from plugins.crime_watch.rule import Alert

CAMERA = CameraInfo(id="cam", name="cam", agency="dishub", driver="test", main=StreamSource(url="rtsp://x/y"))


def context(loop=None) -> AnalyzerContext:
    return AnalyzerContext(camera=CAMERA, analyzer="a", plugin="p", server_loop=loop)


async def where() -> int:
    await asyncio.sleep(0)
    return id(asyncio.get_running_loop())


async def test_submit_on_the_server_loop_is_a_task_of_it():
    loop = asyncio.get_running_loop()
    for ctx in (context(loop), context()):  # given, or the running one
        future = ctx.submit(where())
        assert isinstance(future, asyncio.Task)
        assert await future == id(loop)


async def test_submit_from_the_analytics_loop_and_from_a_thread_runs_on_the_server_loop():
    loop = asyncio.get_running_loop()
    ctx = context(loop)
    other = LoopThread("test-analytics")
    try:

        async def on_analytics():
            assert asyncio.get_running_loop() is not loop
            return ctx.submit(where())

        future = await other.run(on_analytics())
        assert isinstance(future, concurrent.futures.Future)
        assert await asyncio.wrap_future(future) == id(loop)
    finally:
        await asyncio.to_thread(other.close)
    from_thread = await asyncio.to_thread(ctx.submit, where())  # a threaded analyzer's plain def
    assert await asyncio.wrap_future(from_thread) == id(loop)


def test_submit_with_no_loop_anywhere_says_so_and_closes_the_coroutine():
    coro = where()
    with pytest.raises(RuntimeError, match="no server loop"):
        context().submit(coro)
    assert coro.cr_frame is None  # closed: no "never awaited" warning, nothing left half-made


async def test_in_flight_counts_what_runs_drains_it_and_logs_a_failure(caplog):
    loop = asyncio.get_running_loop()
    ctx = context(loop)
    flight = InFlight("test_rule", limit=2)
    release = threading.Event()
    ran = []

    async def evidence(n: int):
        await asyncio.to_thread(release.wait, 5)
        ran.append(n)

    async def broken():
        raise ValueError("disk full")

    def analyzer_thread():  # as a threaded analyzer or the analytics loop would: from another thread
        flight.submit(ctx, evidence(1))
        flight.submit(ctx, evidence(2))

    await asyncio.to_thread(analyzer_thread)
    assert len(flight) == 2 and flight.full
    drained = asyncio.create_task(flight.drain(timeout_s=10))
    await asyncio.sleep(0.05)
    assert not drained.done()  # waits for both
    release.set()
    await drained
    assert sorted(ran) == [1, 2] and len(flight) == 0 and not flight.full
    with caplog.at_level(logging.ERROR, logger="bconnect.analytics"):
        future = flight.submit(ctx, broken())
        with pytest.raises(ValueError):
            await future
        await asyncio.sleep(0)
    assert len(flight) == 0
    assert "test_rule: gathering evidence failed: ValueError: disk full" in caplog.text


async def test_in_flight_drain_gives_up_after_its_timeout():
    ctx = context(asyncio.get_running_loop())
    flight = InFlight("stuck", limit=1)
    gate = asyncio.Event()
    flight.submit(ctx, gate.wait())
    await asyncio.wait_for(flight.drain(timeout_s=0.1), timeout=5)
    assert len(flight) == 1  # still running: drain does not cancel it
    gate.set()
    await flight.drain(timeout_s=5)
    assert len(flight) == 0


class _SlowClips:
    """Stands in for the media core's clip writer (which the pipeline tests run for real): each cut takes its
    post-roll's time, so a burst of violations has that many cuts under way at once."""

    def __init__(self, post_s: float) -> None:
        self.post_s = post_s
        self.cuts = 0

    async def cut(self, camera_id, *, pre_s, post_s, name=None):
        await asyncio.sleep(self.post_s)
        self.cuts += 1
        return type("Cut", (), {"id": new_clip_id()})()


class _Services:
    """What the analyzer uses of PluginServices for evidence: a data folder (real snapshots are written there),
    the clips above, and an event channel that keeps what is published (the real bus: the pipeline tests)."""

    def __init__(self, data_dir, clips) -> None:
        self.data_dir = data_dir
        self.clips = clips
        self.published = []
        self.events = SimpleNamespace(publish=self._publish)
        self.deployment = SimpleNamespace(media=SimpleNamespace(preroll_s=10.0))

    async def _publish(self, event):
        self.published.append(event)


def _burst_of(n: int):
    return [
        Alert(kind="crime.loitering", camera_id="cam", preset=None, zone_id="plaza", zone_kind="watched_area",
              track_ids=(i,), boxes=((10.0 + i, 10.0, 40.0 + i, 90.0),), stream_time=1.0,
              wall_time=datetime.now(UTC), since_s=30.0, priority="normal", facts={})
        for i in range(n)
    ]


@pytest.mark.parametrize(("burst", "clips"), [(32, 32), (36, 32)])
async def test_a_burst_of_alerts_gets_its_clips_up_to_the_limit_and_counts_the_rest(tmp_path, burst, clips):
    """A burst as 16 cameras gave (32 parked vehicles at once): every alert published with its snapshot and,
    up to ``InFlight``'s limit, its clip; beyond it published without, and counted."""
    analyzer = CrimeAnalyzer(Config(clothing_check=False), "Asia/Makassar")
    analyzer.rule.update = lambda info, tracks, zones: _burst_of(burst)
    services = _Services(tmp_path, _SlowClips(0.3))
    ctx = AnalyzerContext(camera=CAMERA, analyzer=analyzer.name, plugin="crime_watch", services=services,
                          server_loop=asyncio.get_running_loop())
    frame = Frame(camera_id="cam", preset=None, ptz=False, view=0, pts_s=1.0, wall=datetime.now(UTC), width=160,
                  height=120, image=np.zeros((120, 160, 3), np.uint8), seq=1)
    other = LoopThread("test-analytics")  # process on the analytics loop, as the runner runs it
    try:
        await other.run(analyzer.process(frame, ctx))
    finally:
        await asyncio.to_thread(other.close)
    await analyzer.drain(timeout_s=10)
    assert len(services.published) == burst and all(e.snapshot is not None for e in services.published)
    with_clip = [e for e in services.published if e.clip_id is not None]
    assert len(with_clip) == clips == min(burst, LIMIT) == services.clips.cuts
    assert analyzer.counts["clip_skipped"] == burst - clips
    assert analyzer.counts["published"] == burst and analyzer.counts["crime.loitering"] == burst
