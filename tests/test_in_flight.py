"""``AnalyzerContext.submit`` and ``InFlight``: an analyzer off the server's loop hands its evidence to that loop.

Real loops and threads: the server's loop is the test's, the analyzer's side a
``LoopThread`` (the analytics loop's class) or a plain thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import pytest

from core.analytics.in_flight import InFlight
from core.analytics.loop_thread import LoopThread
from core.interfaces import AnalyzerContext, CameraInfo, StreamSource

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
    flight = InFlight(2, "test_rule")
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
    flight = InFlight(1, "stuck")
    gate = asyncio.Event()
    flight.submit(ctx, gate.wait())
    await asyncio.wait_for(flight.drain(timeout_s=0.1), timeout=5)
    assert len(flight) == 1  # still running: drain does not cancel it
    gate.set()
    await flight.drain(timeout_s=5)
    assert len(flight) == 0
