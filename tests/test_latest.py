"""The newest-wins queue between threads (core.media.latest): bounded, counted, and no wake-up lost."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from core.media.latest import Latest
from core.media.mux import SubscriptionClosed


async def test_a_full_queue_drops_the_oldest_and_counts_it():
    drops: list[int] = []
    box: Latest[int] = Latest(2, drops.append)
    for i in range(5):
        box.put(i)
    assert [await box.get(), await box.get()] == [3, 4]
    assert box.dropped == 3 and drops == [1, 1, 1]


async def test_a_put_from_another_thread_wakes_the_loop_waiting():
    box: Latest[str] = Latest(1)
    getter = asyncio.ensure_future(box.get())
    await asyncio.sleep(0.05)
    assert not getter.done()
    threading.Thread(target=box.put, args=("frame",)).start()
    assert await asyncio.wait_for(getter, 2.0) == "frame"


async def test_close_from_another_thread_ends_the_waiting_get():
    box: Latest[str] = Latest(1, name="frames of 'cam-1'")
    getter = asyncio.ensure_future(box.get())
    await asyncio.sleep(0.05)
    threading.Thread(target=box.close).start()
    with pytest.raises(SubscriptionClosed, match="frames of 'cam-1' closed"):
        await asyncio.wait_for(getter, 2.0)
    box.put("late")  # ignored once closed
    assert len(box) == 0


async def test_every_item_put_by_a_thread_is_either_taken_or_counted_dropped():
    """A producer thread racing a consumer on the loop: nothing is lost silently and the consumer never stalls."""
    box: Latest[int] = Latest(1)
    count = 20000
    taken: list[int] = []

    def produce() -> None:
        for i in range(count):
            box.put(i)
            if i % 200 == 0:
                time.sleep(0.0005)  # now and then: the consumer takes some, racing the next puts
        box.put(-1)  # the end

    threading.Thread(target=produce).start()
    while True:
        item = await asyncio.wait_for(box.get(), 5.0)  # a lost wake-up would time out here
        if item == -1:
            break
        taken.append(item)
    assert taken == sorted(taken)  # in order
    assert len(taken) + box.dropped == count  # the end marker itself may have pushed out the last number
    assert taken and box.dropped  # both happened: the race was run
