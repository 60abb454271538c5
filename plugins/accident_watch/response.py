"""Response time: from an accident alert to its acknowledgement, as the control room answered it.

The core acknowledges events (``POST /api/events/{id}/ack``) and says how long
that took (``ack.response_s``: acknowledged minus received); it also counts it
in ``bconnect_event_response_seconds{kind}`` on ``/metrics``. This keeps the
last ``response_window`` answers to accident alerts, heard on the live event
stream, for ``GET /api/accident_watch/response``: how many, median, 90th percentile
and the slowest. A live stream that falls behind is reopened; what it missed
is missing from these figures only (the metric and the events keep it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from plugins.accident_watch.rule import EVENT_KIND

log = logging.getLogger("bconnect.plugin.accident_watch")


class ResponseTimes:
    def __init__(self, window: int) -> None:
        self.seconds: collections.deque[float] = collections.deque(maxlen=window)
        self.task: asyncio.Task[None] | None = None

    def record(self, body: dict[str, Any]) -> None:
        """Take one acknowledged event as the live stream shows it."""
        ack = body.get("ack") or {}
        if body.get("kind") == EVENT_KIND and isinstance(ack.get("response_s"), (int, float)):
            self.seconds.append(float(ack["response_s"]))

    def figures(self) -> dict[str, Any]:
        done = sorted(self.seconds)
        if not done:
            return {"acknowledged": 0, "median_s": None, "p90_s": None, "max_s": None}

        def at(q: float) -> float:
            return round(done[min(len(done) - 1, int(q * len(done)))], 3)

        return {"acknowledged": len(done), "median_s": at(0.5), "p90_s": at(0.9), "max_s": round(done[-1], 3)}

    def start(self, events: Any) -> None:
        self.task = asyncio.get_running_loop().create_task(self._follow(events))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _follow(self, events: Any) -> None:
        while True:
            try:
                sub = events.subscribe()
            except RuntimeError:  # the events core is not up yet
                await asyncio.sleep(1.0)
                continue
            try:
                while True:
                    message = await sub.next()
                    if message.kind == "ack":
                        self.record(message.body)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("accident response times: live stream ended (%s); reopening", exc)
                await asyncio.sleep(0.5)
            finally:
                sub.close()
