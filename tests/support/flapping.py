"""A camera that keeps rebooting: a real RTSP server stopped and started on a schedule.

Used by ``tests/test_reconnect.py`` and ``bench/recovery.py``. A recovery is
the time from the server accepting connections again to the first packet of
the camera's new connection reaching the multiplexer (the picture a viewer
then gets), read from the packet's own arrival stamp.
"""

from __future__ import annotations

import asyncio
import os
import time

from core.media.mux import CameraMux
from core.media.packets import MediaPacket
from core.testing.rtsp import RtspServer

# (seconds up after the picture returned, seconds down): quick flaps first, then reboots of 0.2-6 s
SCHEDULE: list[tuple[float, float]] = [
    (0.3, 0.2), (0.3, 0.2), (0.3, 0.3), (0.3, 0.2), (0.3, 0.5),
    (1.0, 1.0), (1.0, 2.0), (1.0, 4.0), (1.0, 6.0), (0.5, 0.2), (1.0, 3.0), (0.5, 0.3),
]  # fmt: skip


async def next_generation(sub, generation: int, timeout: float) -> MediaPacket:
    """The first packet of a connection after ``generation``; ``TimeoutError`` after ``timeout``."""

    async def run() -> MediaPacket:
        while True:
            packet = await sub.get()
            if packet.generation > generation:
                return packet

    return await asyncio.wait_for(run(), timeout)


async def flap(server: RtspServer, mux: CameraMux, schedule: list[tuple[float, float]], timeout: float) -> list[float]:
    """Restart ``server`` per ``schedule``; the recovery of each restart, in seconds.

    A restart whose picture does not return within ``timeout`` counts as ``timeout``.
    """
    sub = mux.subscribe("flapping", maxsize=4096, start="live")
    try:
        await next_generation(sub, 0, 30)
        recoveries = []
        for up, down in schedule:
            await asyncio.sleep(up)
            generation = mux.generation
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(down)
            await asyncio.to_thread(server.start)
            back = time.monotonic()  # start() returns once the port accepts connections
            try:
                packet = await next_generation(sub, generation, timeout)
            except asyncio.TimeoutError:
                recoveries.append(timeout)
                continue
            recoveries.append(max(0.0, packet.arrival - back))
        return recoveries
    finally:
        sub.close()


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds one thread of this process has run.

    From ``/proc/self/task/ID/schedstat`` (nanoseconds, exact) where the kernel
    keeps it, else ``stat``'s user + system time, which is sampled per clock
    tick and so overstates a thread that wakes briefly and often.
    """
    try:
        with open(f"/proc/self/task/{native_id}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
