"""The conformance kit for sinks: the outbox's contract, checked against any sink.

A plugin author hands :func:`check_sink` a factory that builds their sink (a
new instance stands for the sink after a restart) and gets back the checks
that failed, each with its reason::

    from core.testing.sinks import check_sink

    async def test_my_sink_keeps_the_contract(tmp_path):
        assert await check_sink(lambda: MySink(Config(...), context)) == {}

The checks hold what the outbox (:mod:`core.events.outbox`) relies on: the
object is a :class:`core.interfaces.Sink`; ``deliver`` returns within the
deadline; the same event again, to the same instance or a new one, is no
error (delivery is at least once); events one after another all return; an
education-mode event returns too (taken or skipped, never raised on). What
the sink did with the events (a file, a broker) is for the author's own test.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from core.events.sinks import SINK_NAME
from core.events.types import Event
from core.interfaces import Sink

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def sample_event(n: int = 0, *, kind: str = "parking.violation", mode: str = "enforcement", **kw: Any) -> Event:
    """An event as the outbox hands it: agency, area and mode already set by the core."""
    values: dict[str, Any] = {
        "kind": kind, "camera_id": "kit-cam-1", "wall_time": START + timedelta(seconds=n), "zone_id": "kit-zone",
        "track_id": n, "detail": {"n": n, "dwell_s": 125.0}, "agency": "dishub", "area": "kit_area", "mode": mode,
    }
    return Event(**(values | kw))


async def check_sink(factory: Callable[[], Any], timeout_s: float = 10.0) -> dict[str, str]:
    """``{check: reason}`` for every check the sink fails; ``{}`` when it keeps the contract."""
    failed: dict[str, str] = {}
    sink = factory()
    if not isinstance(sink, Sink):
        return {"shape": f"not a core.interfaces.Sink (needs name and async deliver(event)): {sink!r}"[:300]}
    if not isinstance(sink.name, str) or not SINK_NAME.match(sink.name):
        failed["shape"] = f"name {sink.name!r}: lower case letters, digits, _ or -, at most 64"
    if not inspect.iscoroutinefunction(sink.deliver):
        return failed | {"shape": "deliver must be an async method"}

    async def deliver(target: Any, event: Event) -> str | None:
        try:
            await asyncio.wait_for(target.deliver(event), timeout_s)
        except TimeoutError:
            return f"deliver of {event.id} took longer than {timeout_s:g} s"
        except Exception as exc:
            return f"deliver of {event.id} raised {type(exc).__name__}: {exc}"
        return None

    first = sample_event(0)
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("delivers", lambda: deliver(sink, first)),
        ("repeat", lambda: deliver(sink, first)),
        ("repeat_after_restart", lambda: deliver(factory(), first)),
        ("in_order", lambda: _in_order(deliver, sink)),
        ("education", lambda: deliver(sink, sample_event(10, mode="education"))),
    ]
    for name, run in checks:
        reason = await run()
        if reason:
            failed[name] = reason
    return failed


async def _in_order(deliver: Callable[[Any, Event], Any], sink: Any) -> str | None:
    for n in range(1, 6):
        reason = await deliver(sink, sample_event(n))
        if reason:
            return reason
    return None
