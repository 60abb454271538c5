"""The outbox: every stored event to every sink, in order, at least once, one worker per sink.

Each sink has a durable cursor (``sink_cursors``): the ``seq`` of the last
event it accepted, moved only after :meth:`~core.interfaces.Sink.deliver`
returned. A worker reads the events after its cursor from the database (not
from memory), so a restart resumes where the sink left off and memory stays
bounded by one batch per sink. A sink that raises or times out is reported
against its plugin (logged with its name, counted, degraded in health) and the
same event is retried after a growing pause; the other sinks' workers do not
wait for it. A sink seen for the first time starts at the newest event, so
enabling a sink does not replay the whole history into it.

Stopping is graceful: each worker finishes the event in hand (delivery and
cursor) and then returns; only a worker still busy after ``STOP_GRACE_S`` is
cancelled. Only a crash can then deliver an event twice, so sinks remain
idempotent by event id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.events import store
from core.events.metrics import EventMetrics
from core.interfaces import Sink
from core.plugin_host import PluginHost

log = logging.getLogger("bconnect.events.outbox")

BATCH = 50
POLL_S = 5.0  # a missed wake-up costs at most this long
STOP_GRACE_S = 5.0  # how long a stop waits for the events in hand


@dataclass(frozen=True)
class OutboxSettings:
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    timeout_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Pause before retry ``attempt`` (1, 2, ...): doubling to the cap, the upper half jittered."""
        full = min(self.retry_cap_s, self.retry_base_s * 2 ** (attempt - 1))
        return full / 2 + random.uniform(0, full / 2)


@dataclass
class SinkWorker:
    plugin: str
    sink: Sink
    position: int = 0
    delivered: int = 0
    attempts: int = 0  # failed attempts at the current event
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None
    task: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self.wake = asyncio.Event()

    @property
    def name(self) -> str:
        return self.sink.name


class Outbox:
    def __init__(
        self,
        sinks: list[tuple[str, Sink]],
        host: PluginHost,
        metrics: EventMetrics,
        settings: OutboxSettings,
        newest: Callable[[], int],
    ) -> None:
        self.workers = [SinkWorker(plugin, sink) for plugin, sink in sinks]
        self.host = host
        self.metrics = metrics
        self.settings = settings
        self.newest = newest  # the bus's newest seq, for the lag gauge
        self.stopping = False
        self._stop = asyncio.Event()  # wakes a worker pausing between retries

    async def start(self, ready: Callable[[], bool] = lambda: True) -> None:
        """Read each cursor, then start the workers; they deliver once ``ready()`` (the app has started)."""
        start = await store.last_seq()
        for w in self.workers:
            w.position = await store.cursor(w.name, start)
            w.task = asyncio.create_task(self._run(w, ready), name=f"outbox:{w.name}")
            w.task.add_done_callback(lambda t, w=w: self._ended(w, t))

    def notify(self) -> None:
        for w in self.workers:
            w.wake.set()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Let each worker finish the event in hand, then cancel whatever is still busy."""
        self.stopping = True
        self._stop.set()
        for w in self.workers:
            w.wake.set()
        tasks = [w.task for w in self.workers if w.task is not None]
        if not tasks:
            return
        _, busy = await asyncio.wait(tasks, timeout=grace_s)
        for t in busy:
            log.warning("outbox %s: still busy after %g s, stopping it", t.get_name(), grace_s)
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, w: SinkWorker, ready: Callable[[], bool]) -> None:
        # a sink's plugin may still be starting (its bconnect_startup runs after the core's)
        while not ready():
            if self.stopping:
                return
            await asyncio.sleep(0.05)
        while not self.stopping:
            w.wake.clear()  # before reading: a publish during the read wakes the next wait
            try:
                batch = await store.after(w.position, BATCH)
            except Exception as exc:  # the database is away: wait, the cursor is safe
                log.warning("outbox %s: cannot read events: %s", w.name, exc)
                await asyncio.sleep(self.settings.retry_cap_s / 4)
                continue
            self._lag(w)
            if not batch:
                try:
                    await asyncio.wait_for(w.wake.wait(), POLL_S)
                except TimeoutError:
                    pass
                continue
            for item in batch:
                if self.stopping or not await self._deliver(w, item):
                    return

    async def _deliver(self, w: SinkWorker, item: store.StoredEvent) -> bool:
        """Hand ``item`` to the sink until it takes it, then move the cursor; False: stopped first."""
        while True:
            try:
                await asyncio.wait_for(w.sink.deliver(item.event), self.settings.timeout_s)
                break
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the outbox is stopping
                await self._failed(w, item, RuntimeError("deliver was cancelled from inside the sink"))
            except Exception as exc:
                if isinstance(exc, TimeoutError):
                    exc = TimeoutError(f"deliver took longer than {self.settings.timeout_s:g} s")
                await self._failed(w, item, exc)
            if self.stopping:
                return False
        while True:  # the sink has it: move the cursor, which must not be lost
            try:
                await store.advance(w.name, item.seq)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox %s: cannot save the cursor at %d: %s", w.name, item.seq, exc)
                await asyncio.sleep(1.0)
        w.position = item.seq
        w.delivered += 1
        w.attempts = 0
        w.last_ok_at = time.time()
        self.metrics.delivered.labels(sink=w.name).inc()
        self._lag(w)
        return True

    async def _failed(self, w: SinkWorker, item: store.StoredEvent, exc: BaseException) -> None:
        w.attempts += 1
        w.last_error = f"event {item.event.id} (seq {item.seq}): {type(exc).__name__}: {exc}"[:500]
        w.last_error_at = time.time()
        self.metrics.failures.labels(sink=w.name).inc()
        self._lag(w)
        self.host.report_failure(w.plugin, f"sink {w.name}", exc)
        try:
            await asyncio.wait_for(self._stop.wait(), self.settings.backoff(w.attempts))
        except TimeoutError:
            pass

    def _ended(self, w: SinkWorker, task: asyncio.Task) -> None:
        # a worker only ends when stopped; anything else is a bug that must not pass silently
        if not task.cancelled() and task.exception() is not None:
            self.host.report_failure(w.plugin, f"sink {w.name} (outbox worker stopped)", task.exception())

    def _lag(self, w: SinkWorker) -> None:
        self.metrics.lag.labels(sink=w.name).set(max(0, self.newest() - w.position))

    def health(self) -> dict[str, dict]:
        """Each sink: ``ok`` or ``failing`` (retrying the event at its cursor), with the reason."""
        out = {}
        for w in self.workers:
            failing = w.attempts > 0
            out[w.name] = {
                "status": "failing" if failing else "ok",
                "plugin": w.plugin,
                "position": w.position,
                "lag": max(0, self.newest() - w.position),
                "delivered": w.delivered,
                "failed_attempts": w.attempts,
                "reason": w.last_error if failing else None,
            }
        return out
