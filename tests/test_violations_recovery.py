"""After a crash: what was accepted is not lost and nothing is done twice; evidence reads are audited.

A kill -9 at an exact line cannot be aimed from a test; instead each test leaves the database in the
state such a crash leaves (the violation committed as ``action_taken``, with or without its event
published) and starts the real app again on it.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from PIL import Image
from support.events import RecordingSink, SinksPlugin, event, wait_until
from support.violations import DEPLOYMENT, create, headers

from core.auth import audit
from core.config import load_file
from core.events import store
from core.events.models import EventRow
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.plugin_host import PROVIDES_HOOKS, load_plugins
from core.storage import CORE_MODELS, close_database, open_database
from core.testing.app import running_app
from core.violations.models import Violation, ViolationTransition


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(DEPLOYMENT).path)


def host_with(cfg, *plugins):
    host = load_plugins(cfg)
    for i, plugin in enumerate(plugins):
        host.pm.register(plugin, name=f"test_plugin_{i}")
    host.registered = {hook: host.collect(hook) for hook in PROVIDES_HOOKS.values()}
    return host


def service_of(app):
    return app.state.services.plugins.pm.get_plugin("core.ViolationsPlugin").api.service


@pytest.mark.parametrize("published", [False, True], ids=["before-publish", "after-publish"])
async def test_a_hand_over_cut_short_finishes_once_at_the_next_start(cfg, published):
    sink = RecordingSink("ticketing")
    async with running_app(cfg, host=host_with(cfg, SinksPlugin(sink))) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        made = await create(client, h)
        r = await client.post(f"/api/violations/{made['id']}/verify", json={}, headers=h)
        assert r.status_code == 200
        service = service_of(app)
        v = await service.move(await Violation.get(id=made["id"]), "action_taken", "pof", "sticker placed")
        if published:
            await service._announce(v, "violation.verified")
        # the process dies here: the hand-over's last step never ran
    again = RecordingSink("ticketing")
    async with running_app(cfg, host=host_with(cfg, SinksPlugin(again))) as (app, client):
        v = await Violation.get(id=made["id"])
        assert v.state == "handed_to_sink"
        assert await EventRow.filter(kind="violation.verified").count() == 1
        await wait_until(lambda: [e for e in [*sink.got, *again.got] if e.kind == "violation.verified"], what="sink")
    async with running_app(cfg, host=host_with(cfg, SinksPlugin(RecordingSink("ticketing")))) as (app, client):
        assert await EventRow.filter(kind="violation.verified").count() == 1
        moves = await ViolationTransition.filter(violation_id=made["id"], to_state="handed_to_sink").count()
        assert moves == 1
    handed = [e for e in [*sink.got, *again.got] if e.kind == "violation.verified"]
    assert len(handed) == 1 and handed[0].detail["violation_id"] == made["id"]


async def test_a_violation_event_stored_before_a_crash_becomes_its_violation_after_it(cfg):
    async with running_app(cfg) as (app, client):
        await wait_until(lambda: app.state.services.started_at is not None)  # the violations sink has its cursor
    # the bus committed this event, then the process died before the outbox offered it to the violations sink
    await open_database(cfg.deployment.database_url(), [CORE_MODELS])
    try:
        stored, _ = await store.insert(event("dcam", n=1, detail={"plate": "KT 9 Z", "plate_confidence": 0.9},
                                             agency="dishub", area="beruang_madu", mode="enforcement"))
    finally:
        await close_database()
    assert not await _violation_exists_offline(cfg, stored.event.id)
    async with running_app(cfg) as (app, client):
        for _ in range(200):
            if await Violation.filter(event_id=stored.event.id).exists():
                break
            await asyncio.sleep(0.05)
        assert await Violation.filter(event_id=stored.event.id).count() == 1
        assert (await Violation.get(event_id=stored.event.id)).plate == "KT9Z"


async def _violation_exists_offline(cfg, event_id: str) -> bool:
    await open_database(cfg.deployment.database_url(), [CORE_MODELS])
    try:
        return await Violation.filter(event_id=event_id).exists()
    finally:
        await close_database()


async def test_evidence_is_served_with_its_hash_and_every_read_is_audited(cfg):
    async with running_app(cfg) as (app, client):
        jpeg = draw_boxes(Image.new("RGB", (320, 240), (90, 90, 90)), [Box(40, 60, 200, 180, "car 0.91")])
        snapshot = store_snapshot(app.state.services.data_dir, jpeg)
        e = await app.state.services.events.publish(event("dcam", snapshot=snapshot, detail={"plate": "KT 7 B"}))
        for _ in range(200):
            v = await Violation.get_or_none(event_id=e.id)
            if v is not None:
                break
            await asyncio.sleep(0.05)
        h = await headers("pof", "officer", "pemkot")
        body = (await client.get(f"/api/violations/{v.id}", headers=h)).json()
        assert body["evidence"]["snapshot"] == {"url": f"/api/violations/{v.id}/snapshot", "sha256": snapshot.sha256}
        assert body["evidence"]["clip"] is None
        r = await client.get(body["evidence"]["snapshot"]["url"], headers=h)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == snapshot.sha256
        assert r.headers["content-type"] == "image/jpeg"
        reads = [(a.actor, a.target, a.detail) for a in await audit.entries(action="violation.evidence")]
        assert reads == [("pof", str(v.id), f"snapshot {snapshot.sha256}")]
        assert (await client.get(f"/api/violations/{v.id}/clip", headers=h)).status_code == 404


def test_the_benchmark_runs_end_to_end():
    """Behaviour, not timing: a tiny run of bench/violations.py, its final JSON line checked."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "bench" / "violations.py"), "--violations", "60", "--decide", "5",
                           "--events", "3"], capture_output=True, text=True, timeout=180, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {f"{n}_{p}_ms" for n in ("enter", "queue_page", "decide", "event_to_queue") for p in ("p50", "p99")}
    assert all(v > 0 for v in figures.values())
