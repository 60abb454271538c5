"""Evidence integrity and retention: hashes at write time, the rehash check, the purge that spares held evidence."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.audit import anchors
from core.audit.verify import verify_chain
from core.auth import audit
from core.cli import main
from core.config import RetentionSettings, load_file
from core.evidence.check import verify_evidence
from core.evidence.files import EvidenceError, save_snapshot, sha256_file, write_once
from core.evidence.retention import HoldError, purge_expired, set_hold
from core.metrics import Metrics
from core.models import AuditEntry, EvidenceClip, EvidenceSnapshot
from core.plugin_host import load_plugins
from core.scheduler import Scheduler
from core.storage import CORE_MODELS, close_database, open_database
from core.testing.app import add_user, bearer_headers, running_app

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


@pytest.fixture
async def data(make_deployment):
    """A migrated SQLite database in the deployment's data folder; yields (deployment, data_dir)."""
    d = make_deployment()
    await open_database(load_file(d.path).deployment.database_url(), [CORE_MODELS])
    try:
        yield d, d.data_dir
    finally:
        await close_database()


async def clip(data_dir, name: str, age_days: float = 0, content: bytes = b"mp4 bytes") -> EvidenceClip:
    """A ready clip as the clip writer leaves it: the MP4, its sidecar, its row with the hash."""
    sha = write_once(data_dir / "clips" / f"{name}.mp4", content)
    (data_dir / "clips" / f"{name}.json").write_text(f'{{"sha256": "{sha}"}}')
    row = await EvidenceClip.create(
        id=name, camera_id="cam1", agency="dishub", created_by="budi", status="ready", pre_s=5, post_s=5,
        file=f"{name}.mp4", size=len(content), sha256=sha,
    )
    if age_days:
        await EvidenceClip.filter(id=name).update(created_at=datetime.now(UTC) - timedelta(days=age_days))
    return row


async def test_snapshots_are_stored_with_the_hash_of_what_was_written(data):
    _, data_dir = data
    shot = await save_snapshot(data_dir, "cam/1", "dishub", JPEG, created_by="budi", note="parked on the kerb")
    path = data_dir / "snapshots" / shot.file
    assert path.read_bytes() == JPEG and shot.sha256 == sha256_file(path) and shot.size == len(JPEG)
    assert shot.file.startswith("cam_1-") and not list(path.parent.glob(".*.tmp"))
    with pytest.raises(EvidenceError, match="not a JPEG"):
        await save_snapshot(data_dir, "cam1", "dishub", b"GIF89a", created_by="budi")
    with pytest.raises(EvidenceError, match="never overwritten"):
        write_once(path, b"other")
    assert path.read_bytes() == JPEG


async def test_a_changed_or_missing_evidence_file_is_named(data, capsys):
    d, data_dir = data
    await clip(data_dir, "aaaaaaaaaaaaaaaa")
    await clip(data_dir, "bbbbbbbbbbbbbbbb")
    shot = await save_snapshot(data_dir, "cam1", "dishub", JPEG, created_by="budi")
    report = await verify_evidence(data_dir)
    assert report.ok and report.files == 3

    path = data_dir / "clips" / "aaaaaaaaaaaaaaaa.mp4"
    raw = bytearray(path.read_bytes())
    raw[3] ^= 0x01  # one bit of evidence
    path.write_bytes(bytes(raw))
    (data_dir / "snapshots" / shot.file).unlink()
    report = await verify_evidence(data_dir)
    assert len(report.problems) == 2
    changed = "clip aaaaaaaaaaaaaaaa (aaaaaaaaaaaaaaaa.mp4, camera cam1): changed: its SHA-256 is "
    assert report.problems[0].startswith(changed)
    assert report.problems[1] == f"snapshot {shot.id} ({shot.file}, camera cam1): missing"

    await close_database()  # the command opens its own, on its own event loop
    assert await asyncio.to_thread(main, ["audit", "verify", "--evidence", "--config", str(d.path)]) == 1
    out = capsys.readouterr().out
    assert "evidence: 3 files rehashed" in out and "  clip aaaaaaaaaaaaaaaa" in out
    assert f"  snapshot {shot.id}" in out and "NOT INTACT: 2 findings" in out


async def test_the_purge_deletes_what_expired_and_never_what_is_held(data):
    _, data_dir = data
    await clip(data_dir, "old0000000000000", age_days=40)
    await clip(data_dir, "held000000000000", age_days=40)
    await clip(data_dir, "new0000000000000", age_days=1)
    await EvidenceClip.create(id="pend000000000000", camera_id="cam1", agency="dishub", created_by="budi",
                              status="pending", pre_s=5, post_s=5, file="pend.mp4")
    await EvidenceClip.filter(id="pend000000000000").update(created_at=datetime.now(UTC) - timedelta(days=40))
    old_shot = await save_snapshot(data_dir, "cam1", "dishub", JPEG, created_by="budi")
    await EvidenceSnapshot.filter(id=old_shot.id).update(created_at=datetime.now(UTC) - timedelta(days=20))
    new_shot = await save_snapshot(data_dir, "cam1", "dishub", JPEG, created_by="budi")

    held = await set_hold("clip", "held000000000000", True, actor="sari", reason="case 17 open")
    assert held.held
    with pytest.raises(HoldError, match="unknown clip"):
        await set_hold("clip", "nope", True, actor="sari", reason="x")
    with pytest.raises(HoldError, match="unknown evidence kind"):
        await set_hold("plate", "x", True, actor="sari", reason="x")

    result = await purge_expired(data_dir, RetentionSettings(clip_days=30, snapshot_days=10))
    assert sorted(result.purged) == ["clip old0000000000000", f"snapshot {old_shot.id}"] and result.held == 1
    assert not (data_dir / "clips" / "old0000000000000.mp4").exists()
    assert not (data_dir / "clips" / "old0000000000000.json").exists()
    assert not (data_dir / "snapshots" / old_shot.file).exists()
    assert (data_dir / "clips" / "held000000000000.mp4").exists() and (data_dir / "snapshots" / new_shot.file).exists()
    left = set(await EvidenceClip.all().values_list("id", flat=True))
    assert left == {"held000000000000", "new0000000000000", "pend000000000000"}

    purges = await AuditEntry.filter(action="evidence.purge").order_by("seq")
    assert [p.target for p in purges] == ["clip:old0000000000000", f"snapshot:{old_shot.id}"]
    assert purges[0].actor == "system:retention" and "kept 30 days" in purges[0].detail
    assert (await AuditEntry.get(action="evidence.hold")).detail == "case 17 open"
    assert (await verify_chain()).ok and (await verify_evidence(data_dir)).ok

    # released, it goes at the next run; a second run has nothing left to do
    await set_hold("clip", "held000000000000", False, actor="sari", reason="case 17 closed")
    assert (await purge_expired(data_dir, RetentionSettings(clip_days=30))).purged == ["clip held000000000000"]
    assert (await purge_expired(data_dir, RetentionSettings(clip_days=30))).purged == []


async def test_anchor_and_purge_jobs_are_scheduled_as_configured(make_deployment):
    d = make_deployment("[audit]\nanchor_interval_s = 7\n\n[retention]\npurge_interval_s = 11\n")
    cfg = load_file(d.path)
    host = load_plugins(cfg)
    await open_database(cfg.deployment.database_url(), [CORE_MODELS])
    scheduler = Scheduler(host, Metrics(), "UTC")
    scheduler.start()
    try:
        jobs = {job_id: job for job_id, (_plugin, job) in scheduler.jobs.items()}
        assert jobs["core.AuditPlugin:audit_anchor"].seconds == 7
        assert jobs["core.AuditPlugin:evidence_purge"].seconds == 11
        await scheduler.run_now("core.AuditPlugin:audit_anchor")  # an empty chain: nothing to anchor
        assert not anchors.anchors_path(d.data_dir).exists()
        await audit.record("budi", "test.one")
        await scheduler.run_now("core.AuditPlugin:audit_anchor")
        await scheduler.run_now("core.AuditPlugin:evidence_purge")
        [anchor] = anchors.read(anchors.anchors_path(d.data_dir))
        assert anchor.seq == 1 and anchor.hash == (await AuditEntry.get(seq=1)).entry_hash
        assert host.states["core.AuditPlugin"].status == "ok"
    finally:
        scheduler.shutdown()
        await close_database()


async def test_the_hold_route(make_deployment):
    d = make_deployment()
    async with running_app(load_file(d.path)) as (_app, client):
        await clip(d.data_dir, "a0a0a0a0a0a0a0a0")
        await EvidenceClip.filter(id="a0a0a0a0a0a0a0a0").update(agency="polri")
        sari = await bearer_headers(await add_user("sari", role="officer", agency="polri"))
        budi = await bearer_headers(await add_user("budi", role="operator", agency="polri"))
        dina = await bearer_headers(await add_user("dina", role="officer", agency="dishub"))  # no polri data
        url = "/api/evidence/hold"
        body = {"kind": "clip", "id": "a0a0a0a0a0a0a0a0", "held": True, "reason": "case 17 open"}

        r = await client.put(url, json=body, headers=sari)
        assert r.status_code == 200 and r.json() == {"kind": "clip", "id": "a0a0a0a0a0a0a0a0", "held": True}
        shown = await client.get("/api/clips/a0a0a0a0a0a0a0a0", headers=sari)
        assert shown.json()["held"] is True, shown.text
        entry = await AuditEntry.get(action="evidence.hold")
        assert (entry.actor, entry.target, entry.detail) == ("sari", "clip:a0a0a0a0a0a0a0a0", "case 17 open")

        assert (await client.put(url, json=body, headers=budi)).status_code == 403
        assert (await client.put(url, json=body, headers=dina)).status_code == 404  # not her agency's data
        assert (await client.put(url, json={**body, "id": "nope"}, headers=sari)).status_code == 404
        release = {**body, "held": False}
        for bad, code, why in [
            ({**release, "kind": "plate"}, 400, "kind: expected one of: clip, snapshot"),
            ({**release, "id": 7}, 400, "id: expected the clip's id"),
            ({**release, "held": "yes"}, 400, "held: expected true or false"),
            ({k: v for k, v in release.items() if k != "reason"}, 400, "reason: expected a string"),
            ({**release, "reason": " "}, 422, "reason: 1 to 500 characters"),
            ({**release, "until": 1}, 400, "until: unknown key"),
            ([1], 400, "body: expected a JSON object"),
        ]:
            r = await client.put(url, json=bad, headers=sari)
            assert r.status_code == code and why in r.text, (bad, r.text)
        r = await client.put(url, content=b"{", headers={**sari, "Content-Type": "application/json"})
        assert r.status_code == 400
        assert (await EvidenceClip.get(id="a0a0a0a0a0a0a0a0")).held  # nothing above changed it
        assert (await verify_chain()).ok
