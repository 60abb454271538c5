"""Periodic jobs on apscheduler's asyncio scheduler, started and stopped with the app.

Each job is wrapped so that an exception is logged with the plugin's name,
counted, and marks the plugin degraded; the scheduler keeps running.
Sync job functions run in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.interfaces import Job
from core.metrics import Metrics
from core.plugin_host import PluginHost

log = logging.getLogger("bconnect.scheduler")


class Scheduler:
    def __init__(self, host: PluginHost, metrics: Metrics, timezone: str) -> None:
        self._host = host
        self._metrics = metrics
        self._tz = ZoneInfo(timezone)
        self._scheduler = AsyncIOScheduler(timezone=self._tz)
        self.jobs: dict[str, tuple[str, Job]] = {}

    def add(self, plugin: str, job: Job) -> None:
        job_id = f"{plugin}:{job.id}"
        if job_id in self.jobs:
            raise ValueError(f"job {job_id} registered twice")
        trigger = (
            IntervalTrigger(seconds=job.seconds, timezone=self._tz)
            if job.seconds is not None
            else CronTrigger.from_crontab(job.cron, timezone=self._tz)
        )
        self.jobs[job_id] = (plugin, job)
        self._scheduler.add_job(
            self._run, trigger, args=[plugin, job], id=job_id, max_instances=1, coalesce=True, misfire_grace_time=30
        )

    async def _run(self, plugin: str, job: Job) -> None:
        try:
            if inspect.iscoroutinefunction(job.func):
                await job.func()
            else:
                result = await asyncio.to_thread(job.func)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            self._metrics.job_runs.labels(job=job.id, plugin=plugin, outcome="error").inc()
            self._host.report_failure(plugin, f"job {job.id}", exc)
            return
        self._metrics.job_runs.labels(job=job.id, plugin=plugin, outcome="ok").inc()

    async def run_now(self, job_id: str) -> None:
        plugin, job = self.jobs[job_id]
        await self._run(plugin, job)

    def start(self) -> None:
        for plugin, job in self._host.collect("bconnect_register_jobs"):
            if not isinstance(job, Job):
                self._host.report_failure(plugin, "bconnect_register_jobs", TypeError(f"not a Job: {job!r}"))
                continue
            try:
                self.add(plugin, job)
            except Exception as exc:
                self._host.report_failure(plugin, "bconnect_register_jobs", exc)
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._scheduler.running
