"""The scheduler: plugins' jobs run on apscheduler's asyncio scheduler; a failing job is contained."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.app import create_app
from core.config import load_file
from core.interfaces import Job
from core.metrics import Metrics
from core.plugin_host import load_plugins
from core.scheduler import Scheduler
from support.appclient import bearer_headers, running
from support.thirdparty import thirdparty  # noqa: F401  (fixture)
from support.waiting import wait_for

BOTH = '[plugins.tp_hello]\nevery_s = 0.05\n\n[plugins.tp_faulty]\nfail_in = ["job"]\nevery_s = 0.05\n'


def plugin_jobs(scheduler: Scheduler) -> set[str]:
    """Job ids of deployment plugins (core default plugins have jobs of their own)."""
    return {job_id for job_id in scheduler.jobs if not job_id.startswith("core.")}


async def test_failing_job_is_logged_with_its_plugin_and_the_scheduler_keeps_running(
    make_deployment, thirdparty, caplog
):
    cfg = load_file(make_deployment(BOTH).path)
    host = load_plugins(cfg)
    metrics = Metrics()
    host.failure_listeners.append(metrics.on_plugin_failure)
    scheduler = Scheduler(host, metrics, cfg.deployment.deployment.timezone)
    hello = host.pm.get_plugin("tp_hello")
    faulty = host.pm.get_plugin("tp_faulty")
    scheduler.start()
    try:
        assert plugin_jobs(scheduler) == {"tp_hello:count", "tp_faulty:explode"}
        await wait_for(lambda: faulty.job_calls >= 3)  # it failed, and was run again, and again
        runs = hello.runs
        await wait_for(lambda: hello.runs >= runs + 3)  # the healthy job keeps counting
        assert scheduler.running
    finally:
        scheduler.shutdown()
    failures = [r for r in caplog.records if getattr(r, "plugin", None) == "tp_faulty"]
    assert len(failures) >= 3
    assert failures[0].levelno == logging.ERROR and failures[0].where == "job explode"
    assert "tp_faulty broke in job" in failures[0].getMessage()
    assert host.states["tp_faulty"].status == "degraded" and host.states["tp_hello"].status == "ok"
    text = metrics.render().decode()
    assert 'bconnect_job_runs_total{job="explode",outcome="error",plugin="tp_faulty"}' in text
    assert 'bconnect_job_runs_total{job="count",outcome="ok",plugin="tp_hello"}' in text
    assert 'bconnect_plugin_errors_total{plugin="tp_faulty",where="job explode"}' in text
    # stopped means stopped: nothing runs after shutdown
    await asyncio.sleep(0.1)
    runs = hello.runs
    await asyncio.sleep(0.3)
    assert hello.runs == runs and not scheduler.running


async def test_async_and_sync_jobs_and_bad_registrations(make_deployment, thirdparty):
    cfg = load_file(make_deployment('[plugins.tp_faulty]\nfail_in = ["jobs"]\n').path)
    host = load_plugins(cfg)
    scheduler = Scheduler(host, Metrics(), "Asia/Makassar")
    calls: list[str] = []

    async def async_job() -> None:
        calls.append(f"async on the loop: {asyncio.get_running_loop() is not None}")

    def sync_job() -> None:
        # sync jobs run in a worker thread, so this is not the event loop's thread
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        calls.append("sync in a thread")

    scheduler.start()  # tp_faulty raises in bconnect_register_jobs: contained, nothing added
    try:
        assert plugin_jobs(scheduler) == set()
        assert host.states["tp_faulty"].last_where == "bconnect_register_jobs"
        scheduler.add("test", Job(id="a", func=async_job, seconds=60))
        scheduler.add("test", Job(id="s", func=sync_job, cron="*/5 * * * *"))
        with pytest.raises(ValueError, match="registered twice"):
            scheduler.add("test", Job(id="a", func=async_job, seconds=60))
        await scheduler.run_now("test:a")
        await scheduler.run_now("test:s")
    finally:
        scheduler.shutdown()
    assert calls == ["async on the loop: True", "sync in a thread"]


def test_job_needs_exactly_one_schedule():
    with pytest.raises(ValueError):
        Job(id="x", func=lambda: None)
    with pytest.raises(ValueError):
        Job(id="x", func=lambda: None, seconds=1, cron="* * * * *")


async def test_scheduler_starts_and_stops_with_the_app(make_deployment, thirdparty):
    app = create_app(load_file(make_deployment(BOTH).path))
    services = app.state.services
    hello = services.plugins.pm.get_plugin("tp_hello")
    assert services.scheduler is None
    async with running(app) as client:
        assert services.scheduler.running
        await wait_for(lambda: hello.runs >= 3)
        response = await client.get("/api/health", headers=await bearer_headers())  # plugin reasons: admins
        assert response.json()["plugins"]["tp_faulty"]["reason"] == "job explode: RuntimeError: tp_faulty broke in job"
    assert not services.scheduler.running
