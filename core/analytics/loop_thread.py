"""The analytics loop: an event loop in a thread of its own, for the analytics' per-frame steps.

Why: each analysed frame took the server's event loop through a dozen
steps (the picture handed over, the shared detection's task woken, two
thread-pool round trips, the detector's reply, a threaded analyzer's round
trip), 200-250 µs a frame, in bursts when several cameras' pictures came
together; a live viewer's packet arriving meanwhile waited behind the whole
burst. Here those steps run on a second loop, in a thread at the analysis
threads' lower priority: the server's loop only hears of a frame when an
``async`` analyzer, which runs there with the server's services, takes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from core.media.frame_decode import lower_thread_priority

log = logging.getLogger("bconnect.analytics")

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread until :meth:`close`."""

    def __init__(self, name: str = "analytics-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        lower_thread_priority()  # behind ingest and live view, as every analysis thread
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    @property
    def thread_id(self) -> int | None:
        return self._thread.native_id

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> concurrent.futures.Future[T]:
        """Run ``coro`` as a task of this loop; from any thread. Cancelling the returned future cancels the task."""

        async def named() -> T:
            task = asyncio.current_task()
            if task is not None and name:
                task.set_name(name)
            return await coro

        return asyncio.run_coroutine_threadsafe(named(), self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on this loop, from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def cancel_all(self) -> None:
        """From another loop: cancel every task of this loop and wait until they have ended."""

        async def cancel() -> None:
            here = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not here]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            await self.run(cancel())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop and its thread (blocks up to ``timeout``; call it off the server's loop)."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the analytics loop did not stop within %g s", timeout)
            return
        self.loop.close()
