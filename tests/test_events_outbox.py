"""The outbox: every sink gets every event in order, at least once; a failing sink is contained and retried;
a restart (or a crash) resumes from each sink's durable cursor.

The sinks are real sinks of the test's own (tests/support/events.py), handed to
the core through ``bconnect_register_sinks`` by a plugin registered for the test.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.events import CAMERAS, FlakySink, RecordingSink, SinksPlugin, SlowSink, event, wait_until
from support.postgres import postgres_url  # noqa: F401  (fixture)

from core.testing.app import add_user, bearer_headers, running_app
from core.config import load_file
from core.events.models import SinkCursor
from core.plugin_host import load_plugins

ROOT = Path(__file__).resolve().parent.parent

CORE_SINKS = {"violations"}  # the core's own: events that become violations (core/violations)


def host_with(cfg, *sinks):
    host = load_plugins(cfg)
    host.pm.register(SinksPlugin(*sinks), name="test_sinks")
    return host


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(CAMERAS).path)


async def test_a_failing_sink_is_contained_retried_and_catches_up_in_order(cfg, caplog):
    recorder, flaky, slow = RecordingSink(), FlakySink(failures=10**6), SlowSink(0.05)
    async with running_app(cfg, host=host_with(cfg, recorder, flaky, slow)) as (app, client):
        bus = app.state.services.events
        ids = [(await bus.publish(event("dcam" if n % 2 else "pcam", n=n))).id for n in range(6)]
        failed_before = flaky.attempts  # the lag gauge below is read at a failure after the last publish
        admin = await bearer_headers(await add_user("boss", role="admin", agency="pemkot"))

        # the others are not held up by the failing one
        await wait_until(lambda: len(recorder.got) == 6 and len(slow.got) == 6, what="recorder and slow sink")
        await wait_until(lambda: flaky.attempts >= max(3, failed_before + 1), what="flaky retried")
        assert [e.id for e in recorder.got] == ids and [e.id for e in slow.got] == ids
        assert flaky.got == []

        # contained: logged with its name, counted, shown in health
        assert any("plugin test_sinks failed in sink flaky: ConnectionError: broker down" in r.getMessage()
                   for r in caplog.records if r.levelno == logging.ERROR)
        metrics = (await client.get("/metrics", headers=admin)).text
        failures = [line for line in metrics.splitlines() if line.startswith('bconnect_sink_failures_total{sink="flaky"}')]
        assert failures and float(failures[0].split()[-1]) >= 3
        assert 'bconnect_sink_deliveries_total{sink="recorder"} 6.0' in metrics
        assert 'bconnect_sink_lag_events{sink="flaky"} 6.0' in metrics
        health = (await client.get("/api/health", headers=admin)).json()
        assert health["status"] == "degraded"
        assert health["plugins"]["test_sinks"]["status"] == "degraded"
        assert health["plugins"]["test_sinks"]["reason"].startswith("sink flaky: ConnectionError: broker down")
        sink = health["sinks"]["flaky"]
        assert sink["status"] == "failing" and sink["lag"] == 6 and sink["failed_attempts"] >= 3
        assert f"event {ids[0]} (seq " in sink["reason"] and "ConnectionError: broker down" in sink["reason"]
        assert health["sinks"]["recorder"] == {"status": "ok", "plugin": "test_sinks", "position": sink["position"] + 6,
                                              "lag": 0, "delivered": 6, "failed_attempts": 0, "reason": None}

        # the broker comes back: everything arrives, in order, and health says so
        flaky.failures = flaky.attempts
        await wait_until(lambda: len(flaky.got) == 6, what="flaky caught up")
        assert [e.id for e in flaky.got] == ids
        await wait_until(lambda: app.state.services.events.sinks_health()["flaky"]["lag"] == 0, what="lag 0")
        assert app.state.services.events.sinks_health()["flaky"]["status"] == "ok"

        # and keeps going with what comes next
        published_later = await bus.publish(event("dcam", n=40))
        await wait_until(lambda: len(recorder.got) == 7, what="recorder got the 7th")
        assert recorder.got[-1].id == published_later.id


async def test_a_sink_that_hangs_times_out_and_is_retried(cfg):
    class Hanging(RecordingSink):
        def __init__(self):
            super().__init__("hanging")
            self.calls = 0

        async def deliver(self, event):
            self.calls += 1
            if self.calls == 1:
                import asyncio

                await asyncio.sleep(3600)
            self.got.append(event)

    sink = Hanging()
    async with running_app(cfg, host=host_with(cfg, sink)) as (app, client):
        e = await app.state.services.events.publish(event("dcam"))
        await wait_until(lambda: sink.got, timeout=10, what="delivered after the timeout")
        assert [x.id for x in sink.got] == [e.id] and sink.calls == 2
        assert app.state.services.plugins.states["test_sinks"].last_error.startswith(
            "TimeoutError: deliver took longer than 2 s")


async def test_a_sink_cancelled_from_inside_is_retried_not_fatal(cfg):
    import asyncio

    class Cancelling(RecordingSink):
        def __init__(self):
            super().__init__("cancelling")
            self.calls = 0

        async def deliver(self, event):
            self.calls += 1
            if self.calls == 1:
                raise asyncio.CancelledError()  # as some client libraries do when their connection drops
            self.got.append(event)

    sink = Cancelling()
    async with running_app(cfg, host=host_with(cfg, sink)) as (app, _):
        e = await app.state.services.events.publish(event("dcam"))
        await wait_until(lambda: sink.got, what="delivered on the second attempt")
        assert [x.id for x in sink.got] == [e.id]
        assert app.state.services.plugins.states["test_sinks"].last_error == (
            "RuntimeError: deliver was cancelled from inside the sink")


async def test_a_restart_resumes_from_each_sinks_cursor(cfg):
    slow, broken = SlowSink(0.25), FlakySink(failures=10**6, name="broken")
    async with running_app(cfg, host=host_with(cfg, slow, broken)) as (app, _):
        bus = app.state.services.events
        ids = [(await bus.publish(event("dcam", n=n))).id for n in range(10)]
        await wait_until(lambda: len(slow.got) >= 3, what="three delivered")
    # the app stopped part-way: the slow sink took some, the broken one none
    first = [e.id for e in slow.got]
    assert 3 <= len(first) < 10 and first == ids[: len(first)]
    assert broken.got == []

    # the same sinks, working now, and a sink that was never seen before
    again, fixed, newcomer = RecordingSink("slow"), RecordingSink("broken"), RecordingSink("newcomer")
    async with running_app(cfg, host=host_with(cfg, again, fixed, newcomer)) as (app, _):
        await wait_until(lambda: len(fixed.got) == 10 and again.got and again.got[-1].id == ids[-1], what="resumed")
        resumed = [e.id for e in again.got]
        # from the cursor on, in order; at least once: the event in flight when the app stopped may come again
        assert resumed[0] in (ids[len(first)], ids[len(first) - 1])
        assert resumed == ids[ids.index(resumed[0]):]
        assert [e.id for e in fixed.got] == ids
        # a new sink starts at the newest event, not at the beginning of history
        late = await app.state.services.events.publish(event("pcam", n=11))
        await wait_until(lambda: newcomer.got, what="newcomer got the new event")
        assert [e.id for e in newcomer.got] == [late.id]
        cursors = {c.sink: c.position for c in await SinkCursor.all()}
        assert set(cursors) - CORE_SINKS == {"slow", "broken", "newcomer"}


CRASHING = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from support.events import SinksPlugin, SlowSink, event
    from core.testing.app import running_app
    from core.config import load_file
    from core.plugin_host import load_plugins

    async def main():
        cfg = load_file({config!r})
        host = load_plugins(cfg)
        host.pm.register(SinksPlugin(SlowSink(3600, name="stuck")), name="test_sinks")
        async with running_app(cfg, host=host) as (app, _):
            for n in range(3):
                e = await app.state.services.events.publish(event("dcam", n=n))
                print("published", e.id, flush=True)  # publish has returned: the event is the core's now
            os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def test_events_accepted_before_a_crash_are_delivered_after_it(cfg, tmp_path):
    # the sink exists (its cursor is stored) before the crash
    async with running_app(cfg, host=host_with(cfg, RecordingSink("stuck"))):
        pass
    script = CRASHING.format(tests=str(ROOT / "tests"), root=str(ROOT), config=str(cfg.path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ids = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("published ")]
    assert len(ids) == 3

    sink = RecordingSink("stuck")
    async with running_app(cfg, host=host_with(cfg, sink)):
        await wait_until(lambda: len(sink.got) == 3, what="delivered after the crash")
    assert [e.id for e in sink.got] == ids


async def test_malformed_sinks_are_refused_with_the_reason(cfg):
    class SyncSink:
        name = "sync"

        def deliver(self, event):
            pass

    class NoName:
        async def deliver(self, event):
            pass

    good = RecordingSink("good")
    host = host_with(cfg, SyncSink(), NoName(), good, RecordingSink("good"), RecordingSink("Bad Name"))
    async with running_app(cfg, host=host) as (app, _):
        assert set(app.state.services.events.sinks_health()) - CORE_SINKS == {"good"}
        state = app.state.services.plugins.states["test_sinks"]
        assert state.errors == 4
        e = await app.state.services.events.publish(event("dcam"))
        await wait_until(lambda: good.got, what="the good sink still works")
        assert good.got[0].id == e.id


PG_PROBE = ROOT / "tests" / "support" / "events_pg_probe.py"


@pytest.mark.postgres
def test_events_outbox_and_acknowledgement_on_postgresql(make_deployment, postgres_url):  # noqa: F811
    """In a fresh process: tortoise keeps per-process state from the SQLite tests that ran before (test_storage too)."""
    d = make_deployment(CAMERAS)
    d.path.write_text(d.path.read_text().replace("[server]\n", f'[server]\ndatabase_url = "{postgres_url}"\n', 1))
    proc = subprocess.run([sys.executable, str(PG_PROBE), str(d.path)], capture_output=True, text=True, timeout=90,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("postgresql: ok")
    assert not (d.data_dir / "bconnect.db").exists()  # nothing went to SQLite
