"""The multiplexer on synthetic packets: GOP cache, ring, slow subscribers; the hand-off; timestamps."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from support.media import gops, packet, take

from core.media.handoff import LoopHandoff
from core.media.ingest_settings import IngestSettings
from core.media.reconnect import backoff_delay
from core.media.timeline import Timeline
from core.media.mux import CameraMux, SubscriptionClosed
from core.media.packet_reader import ThreadReader


async def test_gop_start_delivers_cached_gop_then_live():
    mux = CameraMux("cam")
    for p in gops(2, gop=10)[:14]:  # two keyframes: at 0 and at 10
        mux.publish(p)
    sub = mux.subscribe("viewer")  # start="gop"
    first = await take(sub, 4, 1)
    assert first[0].keyframe and first[0].pts == packet(10 / 25).pts
    assert [p.pts for p in first] == [packet(i / 25).pts for i in range(10, 14)]
    mux.publish(packet(14 / 25))
    assert (await take(sub, 1, 1))[0].pts == packet(14 / 25).pts
    assert sub.dropped == 0


async def test_live_start_waits_for_next_keyframe_without_counting_drops():
    mux = CameraMux("cam")
    for p in gops(1, gop=10)[:5]:
        mux.publish(p)
    sub = mux.subscribe("viewer", start="live")
    assert sub.queued == 0
    for i in range(5, 10):
        mux.publish(packet(i / 25))
    assert sub.queued == 0
    mux.publish(packet(10 / 25, keyframe=True))
    got = await take(sub, 1, 1)
    assert got[0].keyframe
    assert sub.dropped == 0


async def test_slow_subscriber_drops_to_next_keyframe_and_never_slows_others():
    mux = CameraMux("cam")
    slow = mux.subscribe("slow", maxsize=8, start="live")
    fast = mux.subscribe("fast", maxsize=8, start="live")
    received = []

    async def consume():
        async for p in fast:
            received.append(p)

    task = asyncio.create_task(consume())
    stream = gops(3, gop=10)[:24]
    for p in stream:
        mux.publish(p)
        await asyncio.sleep(0)  # the fast consumer keeps up; the slow one never reads
    fast.close()
    await asyncio.wait_for(task, 1)
    assert [p.pts for p in received] == [p.pts for p in stream]
    assert fast.dropped == 0
    # the slow queue overflowed, was cleared, and resumed at a keyframe
    assert slow.dropped > 0
    assert mux.dropped == slow.dropped
    queued = [slow.get_nowait() for _ in range(slow.queued)]
    assert queued[0].keyframe
    assert [p.pts for p in queued] == [p.pts for p in stream[20:24]]


async def test_an_analytics_reader_losing_packets_is_not_the_cameras_loss():
    """A thread's reader behind live view loses packets by design (counted by the frame hub as dropped
    analytics frames); the camera's own count (health "dropped") stays what viewers lost."""
    mux = CameraMux("cam")
    reader = mux.subscribe("frames:cam", maxsize=8, start="live", kind=ThreadReader)
    viewer = mux.subscribe("viewer", maxsize=8, start="live")
    for p in gops(3, gop=10)[:24]:
        mux.publish(p)
    assert reader.dropped > 0 and viewer.dropped > 0
    assert mux.dropped == viewer.dropped


async def test_gop_prefill_may_exceed_maxsize_without_dropping():
    mux = CameraMux("cam")
    for p in gops(1, gop=50):
        mux.publish(p)
    sub = mux.subscribe("viewer", maxsize=16)
    mux.publish(packet(50 / 25))  # arrives while the cached GOP is still queued
    got = await take(sub, 51, 1)
    assert got[0].keyframe and sub.dropped == 0


async def test_preroll_starts_at_a_keyframe_and_ring_is_bounded():
    mux = CameraMux("cam", ring_seconds=4.0)
    for p in gops(10, gop=25):  # 10 s, keyframe every second
        mux.publish(p)
    newest = 249 / 25
    pre = mux.preroll(2.0)
    assert pre[0].keyframe
    assert newest - pre[0].arrival >= 2.0
    assert newest - pre[0].arrival < 3.0 + 1e-9
    assert pre[-1].arrival == pytest.approx(newest)
    # the ring keeps about ring_seconds (whole GOPs), not everything
    everything = mux.preroll(100)
    assert everything[0].keyframe
    assert 4.0 <= newest - everything[0].arrival < 5.0 + 1e-9


async def test_preroll_and_gop_stay_within_the_current_generation():
    mux = CameraMux("cam", ring_seconds=30)
    for p in gops(3, gop=25, generation=1):
        mux.publish(p)
    for p in gops(1, gop=25, start_s=5.0, generation=2):
        mux.publish(p)
    pre = mux.preroll(10)
    assert {p.generation for p in pre} == {2}
    assert mux.gop()[0].generation == 2 and mux.gop()[0].keyframe


async def test_subscription_survives_a_new_generation():
    mux = CameraMux("cam")
    sub = mux.subscribe("viewer", start="live")
    for p in gops(1, gop=5, generation=1):
        mux.publish(p)
    for p in gops(1, gop=5, start_s=3.0, generation=2):
        mux.publish(p)
    got = await take(sub, 10, 1)
    assert [p.generation for p in got] == [1] * 5 + [2] * 5
    assert got[5].keyframe


async def test_packets_before_the_first_keyframe_are_not_kept():
    mux = CameraMux("cam")
    mux.publish(packet(0.0))
    mux.publish(packet(0.04))
    assert mux.gop() == [] and mux.last_keyframe() is None
    mux.publish(packet(0.08, keyframe=True))
    assert len(mux.gop()) == 1


async def test_close_ends_subscriptions():
    mux = CameraMux("cam")
    sub = mux.subscribe("viewer")
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    mux.close()
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(waiter, 1)
    assert [p async for p in sub] == []
    assert mux.subscriber_count == 0
    with pytest.raises(SubscriptionClosed):
        mux.subscribe("late")


async def test_subscription_close_removes_it():
    mux = CameraMux("cam")
    with mux.subscribe("a"):
        assert mux.subscriber_count == 1
    assert mux.subscriber_count == 0
    with pytest.raises(ValueError):
        mux.subscribe("b", start="middle")


async def test_handoff_batches_thread_posts_in_order():
    loop = asyncio.get_running_loop()
    handoff = LoopHandoff(loop, max_pending=10_000)
    got: list[int] = []
    done = asyncio.Event()

    def deliver(i: int) -> None:
        got.append(i)
        if i == 4999:
            done.set()

    def producer() -> None:
        for i in range(5000):
            assert handoff.post(deliver, i)

    thread = threading.Thread(target=producer)
    thread.start()
    await asyncio.wait_for(done.wait(), 5)
    thread.join()
    assert got == list(range(5000))
    assert handoff.batches < handoff.items  # many packets per loop wake-up


async def test_handoff_refuses_when_the_loop_is_far_behind():
    handoff = LoopHandoff(asyncio.get_running_loop(), max_pending=3)
    assert all(handoff.post(lambda _: None, i) for i in range(3))
    assert handoff.post(lambda _: None, 3) is False
    await asyncio.sleep(0)
    assert handoff.post(lambda _: None, 4) is True


def test_timeline_stays_monotonic_across_jumps():
    tl = Timeline(max_jump=5 * 90_000)
    outs = [tl.map(ts) for ts in (1000, 4600, 8200)]
    assert outs == [0, 3600, 7200]
    # the camera restarts: its clock goes back
    outs.append(tl.map(500))
    assert outs[-1] == 7200 + 3600
    # a leap forward (33-bit wrap, clock reset) is a discontinuity too
    outs.append(tl.map(500 + 3600 + 90_000 * 60))
    assert outs[-1] == outs[-2] + 3600
    # a missing timestamp continues at the last step
    outs.append(tl.map(None))
    assert outs[-1] == outs[-2] + 3600
    # a new connection continues one frame after the last output
    tl.restart()
    outs.append(tl.map(123_456_789))
    assert outs[-1] == outs[-2] + 3600
    assert outs == sorted(outs) and len(set(outs)) == len(outs)


def test_backoff_is_capped_full_jitter():
    settings = IngestSettings(backoff_base_s=0.5, backoff_cap_s=30.0)
    rng = random.Random(7)
    for attempt in range(1, 20):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, settings, rng) for _ in range(200)]
        assert all(0 < d <= ceiling for d in delays)
        # full jitter: spread over the whole range, not bunched at the ceiling
        assert min(delays) < ceiling * 0.2 + 0.05 and max(delays) > ceiling * 0.8


def test_replay_gop_restarts_a_subscriber_at_the_latest_keyframe():
    mux = CameraMux("cam")
    sub = mux.subscribe("viewer", maxsize=64, start="live")
    assert not sub.replay_gop()  # nothing cached yet
    stream = [packet(i / 25, keyframe=i % 25 == 0) for i in range(60)]  # keyframes at 0, 1 s and 2 s
    for p in stream:
        mux.publish(p)
    while sub.get_nowait() is not None:  # the viewer has taken everything
        pass
    assert sub.replay_gop()
    replayed = []
    while (p := sub.get_nowait()) is not None:
        replayed.append(p)
    assert replayed == stream[50:]  # from the last keyframe to the newest packet
    mux.publish(live := packet(60 / 25))
    assert sub.get_nowait() is live  # and live packets follow
    sub.close()
    assert not sub.replay_gop()


def test_replay_gop_refuses_a_cache_that_is_no_longer_live():
    import time

    mux = CameraMux("cam")
    sub = mux.subscribe("viewer", maxsize=64, start="live")
    old = time.monotonic() - 5  # the camera went quiet five seconds ago
    for i in range(10):
        mux.publish(packet(i / 25, keyframe=i == 0, arrival=old + i / 25))
    assert not sub.replay_gop(max_age_s=2.0)  # the camera is down: its last GOP is not live video
    assert sub.replay_gop()  # without a limit, it is still there
