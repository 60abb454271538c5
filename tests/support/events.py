"""What the event tests share: a deployment with cameras of two agencies in two areas, and sinks of their own.

The cameras' URLs lead nowhere (a closed port): events only need the cameras
to exist, with their agency and area. The sinks are real sinks registered by a
plugin for the test, not stand-ins: one records, one fails a given number of
times, one is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import uvicorn
from starlette.applications import Starlette

from core.events.types import Event
from core.hookspecs import hookimpl

CAMERAS = """
[plugins.stream_url]
[[plugins.stream_url.cameras]]
id = "dcam"
name = "Simpang Beruang Madu"
url = "rtsp://127.0.0.1:1/none"
agency = "dishub"
area = "beruang_madu"

[[plugins.stream_url.cameras]]
id = "pcam"
name = "ETLE Balikpapan Plaza"
url = "rtsp://127.0.0.1:1/none"
agency = "polri"
area = "beller"

[[plugins.stream_url.cameras]]
id = "nowhere"
name = "No area"
url = "rtsp://127.0.0.1:1/none"
agency = "pemkot"

[events]
sink_retry_base_s = 0.05
sink_retry_cap_s = 0.2
sink_timeout_s = 2
"""


def event(camera: str = "dcam", kind: str = "parking.violation", n: int = 0, **kw) -> Event:
    when = datetime(2026, 1, 5, 8, 0, n % 60, tzinfo=timezone.utc)
    kw.setdefault("detail", {"n": n})
    return Event(kind=kind, camera_id=camera, wall_time=when, **kw)


class RecordingSink:
    """Takes every event; remembers the order."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.got: list[Event] = []

    async def deliver(self, event: Event) -> None:
        self.got.append(event)


class FlakySink(RecordingSink):
    """Refuses its first ``failures`` attempts (a broker that is down), then takes everything."""

    def __init__(self, failures: int, name: str = "flaky") -> None:
        super().__init__(name)
        self.failures = failures
        self.attempts = 0

    async def deliver(self, event: Event) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError(f"broker down (attempt {self.attempts})")
        self.got.append(event)


class SlowSink(RecordingSink):
    def __init__(self, delay_s: float, name: str = "slow") -> None:
        super().__init__(name)
        self.delay_s = delay_s
        self.started: list[str] = []

    async def deliver(self, event: Event) -> None:
        self.started.append(event.id)
        await asyncio.sleep(self.delay_s)
        self.got.append(event)


class SinksPlugin:
    """Registered for one test: hands the core the given sinks."""

    def __init__(self, *sinks) -> None:
        self.sinks = sinks

    @hookimpl
    def bconnect_register_sinks(self, register):
        for sink in self.sinks:
            register(sink)


@contextlib.asynccontextmanager
async def served(app: Starlette, port: int) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` inside this event loop (streams, browsers)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped while starting")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def wait_until(check, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)
