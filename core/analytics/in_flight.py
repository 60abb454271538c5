"""The evidence an analyzer is gathering: coroutines handed to the server's loop, counted and drained.

A rule's analyzer finds a violation on whichever loop or thread its
``process`` runs on, and gathers the evidence (snapshot, clip, plate,
publish) on the server's loop, where the services live
(:meth:`AnalyzerContext.submit <core.interfaces.AnalyzerContext.submit>`).
:class:`InFlight` keeps those futures: ``full`` says when ``limit`` are under
way (the analyzer then evidences more cheaply: no clip, counted), a coroutine that
raises is logged (never lost silently), and :meth:`drain` waits for them at
shutdown. Adding (the analyzer's thread) and discarding (the server's, as
each ends) are single set operations, safe across the two threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine
from typing import Any

from core.interfaces import AnalyzerContext

log = logging.getLogger("bconnect.analytics")

Future = asyncio.Future[Any] | concurrent.futures.Future[Any]

# Evidence under way at once per analyzer before the next goes without a clip. The clip writer bounds the
# writing itself (four files at a time); what waits here holds a mux subscription for the post-roll, the
# picture for the snapshot (2.7 MB at 720p) and a few crops: 32 of them, about 100 MB at worst. At 8, a
# burst of 32 parked vehicles on 16 cameras (bench/analytics_load.py --footage vtest.avi) published 8 of
# them without a clip.
LIMIT = 32


class InFlight:
    def __init__(self, name: str, limit: int = LIMIT) -> None:
        self.limit = limit
        self.name = name  # the analyzer's, for the log
        self._futures: set[Future] = set()

    def __len__(self) -> int:
        return len(self._futures)

    @property
    def full(self) -> bool:
        return len(self._futures) >= self.limit

    def submit(self, ctx: AnalyzerContext, coro: Coroutine[Any, Any, Any]) -> Future:
        """Run ``coro`` on the server's loop (``ctx.submit``) and keep its future until it ends."""
        future = ctx.submit(coro)
        self._futures.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        self._futures.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("%s: gathering evidence failed: %s: %s", self.name, type(exc).__name__, exc)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait, on the server's loop, for what is under way to end (at most ``timeout_s``)."""
        pending = [asyncio.wrap_future(f) for f in set(self._futures)]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
