"""A violation's snapshot and clip are held while its case is open and released when it ends.

A real app (SQLite, the event bus, the violations sink): an event with a stored snapshot and a ready
clip becomes a violation; its evidence is then held (the retention purge keeps it however old), recorded
in the evidence store (so ``verify_evidence`` rehashes the snapshot), and released once the case is
rejected or closed, after which the purge deletes it, each step in the audit chain.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from support.events import event
from support.violations import DEPLOYMENT, headers

from core.config import RetentionSettings, load_file
from core.events.snapshots import store_snapshot
from core.evidence.check import verify_evidence
from core.evidence.files import write_once
from core.evidence.retention import purge_expired
from core.models import AuditEntry, EvidenceClip, EvidenceSnapshot
from core.testing.app import running_app
from core.violations.models import Violation

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"
RETENTION = RetentionSettings(clip_days=30, snapshot_days=30)


async def _clip(data_dir, name: str) -> EvidenceClip:
    sha = write_once(data_dir / "clips" / f"{name}.mp4", b"mp4 bytes of " + name.encode())
    return await EvidenceClip.create(id=name, camera_id="dcam", agency="dishub", created_by="analytics",
                                     status="ready", pre_s=5, post_s=2, file=f"{name}.mp4", size=20, sha256=sha)


async def _age(days: int) -> None:
    old = datetime.now(UTC) - timedelta(days=days)
    await EvidenceClip.all().update(created_at=old)
    await EvidenceSnapshot.all().update(created_at=old)


async def _violation(bus, data_dir, n: int, clip_id: str) -> Violation:
    snapshot = store_snapshot(data_dir, JPEG + bytes([n]))
    e = await bus.publish(event("dcam", n=n, snapshot=snapshot, clip_id=clip_id,
                                detail={"plate": "KT 1234 AB", "plate_confidence": 0.95, "class": "car"}))
    for _ in range(200):
        v = await Violation.get_or_none(event_id=e.id)
        if v is not None and (await EvidenceClip.get(id=clip_id)).held:  # held right after it is made
            return v
        await asyncio.sleep(0.05)
    raise AssertionError("no violation made from the event within 10 s")


async def test_open_cases_evidence_is_held_and_purged_only_after_release(make_deployment):
    cfg = load_file(make_deployment(DEPLOYMENT).path)
    async with running_app(cfg) as (app, client):
        data_dir = app.state.services.data_dir
        bus = app.state.services.events
        h = await headers("evi", "officer", "dishub")
        await _clip(data_dir, "a000000000000001")
        await _clip(data_dir, "b000000000000002")
        rejected = await _violation(bus, data_dir, 1, "a000000000000001")
        closed = await _violation(bus, data_dir, 2, "b000000000000002")

        # held from creation; the snapshot is now in the evidence store, so the hash check covers it
        shots = {s.id: s for s in await EvidenceSnapshot.all()}
        assert set(shots) == {rejected.snapshot_sha256[:16], closed.snapshot_sha256[:16]}
        assert all(s.held for s in shots.values()) and all(c.held for c in await EvidenceClip.all())
        assert shots[rejected.snapshot_sha256[:16]].file == rejected.snapshot_path.removeprefix("snapshots/")
        report = await verify_evidence(data_dir)
        assert report.ok and report.files == 4, report.problems
        holds = await AuditEntry.filter(action="evidence.hold").values_list("target", flat=True)
        assert sorted(holds) == sorted([f"snapshot:{rejected.snapshot_sha256[:16]}", "clip:a000000000000001",
                                        f"snapshot:{closed.snapshot_sha256[:16]}", "clip:b000000000000002"])

        # a year old and held: the purge keeps every file
        await _age(365)
        result = await purge_expired(data_dir, RETENTION)
        assert result.purged == [] and result.held == 4
        assert (data_dir / rejected.snapshot_path).is_file() and (data_dir / "clips" / "a000000000000001.mp4").is_file()

        # rejected: released, and the purge takes it; the open one stays
        r = await client.post(f"/api/violations/{rejected.id}/reject", headers=h,
                              json={"reason": "duplicate", "note": "seen twice", "officer_name": "Evi"})
        assert r.status_code == 200, r.text
        result = await purge_expired(data_dir, RETENTION)
        assert sorted(result.purged) == sorted([f"snapshot {rejected.snapshot_sha256[:16]}", "clip a000000000000001"])
        assert not (data_dir / rejected.snapshot_path).exists()
        assert not (data_dir / "clips" / "a000000000000001.mp4").exists()
        assert (data_dir / closed.snapshot_path).is_file()

        # closed (verified, action, handed over, closed): released too, then purged
        for path in ("verify", "action", "close"):
            r = await client.post(f"/api/violations/{closed.id}/{path}", json={}, headers=h)
            assert r.status_code == 200, r.text
            if path != "close":
                assert (await EvidenceClip.get(id="b000000000000002")).held, path
        assert r.json()["state"] == "closed"
        assert not (await EvidenceClip.get(id="b000000000000002")).held
        released = await AuditEntry.filter(action="evidence.release").values_list("target", "detail")
        assert ("clip:b000000000000002", f"violation {closed.id} is closed") in released
        result = await purge_expired(data_dir, RETENTION)
        assert sorted(result.purged) == sorted([f"snapshot {closed.snapshot_sha256[:16]}", "clip b000000000000002"])


async def test_resume_holds_the_evidence_of_an_open_case_that_was_not_held(make_deployment):
    """A violation from before holds existed (or a hold cut short by a crash) is held at the next start; a
    decided one's snapshot is recorded in the evidence store too (not held), dated as its violation."""
    cfg = load_file(make_deployment(DEPLOYMENT).path)
    async with running_app(cfg) as (app, client):
        data_dir = app.state.services.data_dir
        await _clip(data_dir, "c000000000000003")
        await _clip(data_dir, "d000000000000004")
        v = await _violation(app.state.services.events, data_dir, 3, "c000000000000003")
        done = await _violation(app.state.services.events, data_dir, 4, "d000000000000004")
        r = await client.post(f"/api/violations/{done.id}/reject", headers=await headers("evo", "officer", "dishub"),
                              json={"reason": "duplicate", "note": "n", "officer_name": "Evo"})
        assert r.status_code == 200, r.text
        await EvidenceClip.all().update(held=False)
        await EvidenceSnapshot.all().delete()
        await app.state.services.violations.resume()
        assert (await EvidenceClip.get(id="c000000000000003")).held
        assert (await EvidenceSnapshot.get(id=v.snapshot_sha256[:16])).held
        old = await EvidenceSnapshot.get(id=done.snapshot_sha256[:16])
        assert not old.held and old.created_at == done.created_at
        assert not (await EvidenceClip.get(id="d000000000000004")).held
        assert (await verify_evidence(data_dir)).files == 4
