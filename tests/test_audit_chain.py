"""The audit chain on real SQLite and PostgreSQL: concurrent appends, tampering found and named, anchors."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate

from core.audit import anchors, chain
from core.audit.verify import verify_chain
from core.auth import audit
from core.cli import main
from core.models import AuditEntry
from core.storage import CORE_MODELS, close_database, open_database, tortoise_config
from support.postgres import postgres_url  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request, tmp_path):
    """An empty, migrated database of each kind; yields its dialect."""
    url = f"sqlite://{(tmp_path / 'bconnect.db').as_posix()}"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    # tortoise caches each model's INSERT per connection name, process-wide: not across dialects
    EXECUTOR_CACHE.clear()
    await open_database(url, [CORE_MODELS])
    try:
        yield request.param
    finally:
        await close_database()
        EXECUTOR_CACHE.clear()


async def sql(statement: str) -> None:
    """Tampering: raw SQL behind B-Connect's back, as someone with database access would."""
    await Tortoise.get_connection("default").execute_script(statement)


async def fill(n: int) -> None:
    for i in range(n):
        await audit.record(f"user{i}", "test.step", f"t{i}", f"detail {i}", address="10.0.0.1")


async def test_concurrent_appends_make_one_chain(db):
    await asyncio.gather(*(audit.record("ana", "test.concurrent", str(i)) for i in range(40)))
    rows = await AuditEntry.all().order_by("seq")
    assert [r.seq for r in rows] == list(range(1, 41))
    assert rows[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(rows, rows[1:]))
    assert all(chain.row_hash(r) == r.entry_hash for r in rows)
    report = await verify_chain()
    assert report.ok and report.entries == 40 and report.last_seq == 40


async def test_the_model_still_refuses_changes(db):
    entry = await audit.record("ana", "test.one", "x")
    entry.actor = "eve"
    with pytest.raises(PermissionError):
        await entry.save()
    with pytest.raises(PermissionError):
        await entry.delete()


async def test_an_edited_field_is_named(db):
    await fill(6)
    await sql("UPDATE audit_log SET actor = 'eve' WHERE seq = 3")
    assert (await verify_chain()).problems == ["entry 3: edited: its fields do not match its hash"]


async def test_an_edited_and_rehashed_entry_is_named_by_its_successor(db):
    await fill(6)
    row = await AuditEntry.get(seq=3)
    row.detail = "nothing happened"
    forged = chain.row_hash(row)
    await sql(f"UPDATE audit_log SET detail = 'nothing happened', entry_hash = '{forged}' WHERE seq = 3")
    problems = (await verify_chain()).problems
    assert problems == [
        "entry 4: does not follow entry 3: its link names another entry (entry 3 was replaced, or entry 4 inserted)"
    ]


async def test_a_deleted_entry_is_named(db):
    await fill(6)
    await sql("DELETE FROM audit_log WHERE seq = 4")
    assert (await verify_chain()).problems == ["entry 4: missing (deleted)"]


async def test_inserted_entries_are_named(db):
    await fill(6)
    # a row written with plain SQL, knowing nothing of the chain
    await sql("INSERT INTO audit_log (at, actor, action, target, detail, address, prev_hash, entry_hash)"
              " VALUES ('2026-01-01 00:00:00+00:00', 'eve', 'user.create', 'mallory', '', '', '', '')")
    problems = (await verify_chain()).problems
    assert len(problems) == 1 and problems[0].startswith("row id 7: not in the chain")


async def test_an_entry_forged_into_the_middle_is_found(db):
    """Renumber 4..6 to 5..7 and write a well-formed entry 4 after entry 3."""
    await fill(6)
    for seq in (6, 5, 4):  # one by one from the top: seq is unique
        await sql(f"UPDATE audit_log SET seq = {seq + 1} WHERE seq = {seq}")
    third = await AuditEntry.get(seq=3)
    at = third.at
    forged = chain.hash_of(4, at, "eve", "user.create", "mallory", "", "", third.entry_hash)
    stamp = at.isoformat()
    await sql("INSERT INTO audit_log (at, actor, action, target, detail, address, seq, prev_hash, entry_hash)"
              f" VALUES ('{stamp}', 'eve', 'user.create', 'mallory', '', '', 4, '{third.entry_hash}', '{forged}')")
    problems = (await verify_chain()).problems
    assert problems == [
        "entries 5..7: moved, they were 4..6 (renumbered: an entry was inserted before entry 5)"
    ]


async def test_two_swapped_entries_are_named(db):
    await fill(6)
    await sql("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    await sql("UPDATE audit_log SET seq = 2 WHERE seq = 5")
    await sql("UPDATE audit_log SET seq = 5 WHERE seq = -1")
    assert (await verify_chain()).problems == [
        "entry 2: moved, it was entry 5 (reordered or renumbered)",
        "entry 5: moved, it was entry 2 (reordered or renumbered)",
    ]


async def test_a_truncated_tail_is_found_by_an_anchor(db, tmp_path):
    await fill(5)
    anchor = await anchors.write(tmp_path)
    assert anchor is not None and anchor.seq == 5
    await fill(3)
    marks = anchors.read(anchors.anchors_path(tmp_path))
    assert marks == [anchor] and (await verify_chain(marks)).ok
    # the newest entries removed: the chain alone still links up
    await sql("DELETE FROM audit_log WHERE seq >= 4")
    assert (await verify_chain()).ok
    problems = (await verify_chain(marks)).problems
    assert problems == [
        f"anchor of entry 5 ({anchor.at}): the chain ends at entry 3: entries 4..5 were deleted (tail truncated)"
    ]


async def test_a_rewritten_chain_is_found_by_an_anchor(db, tmp_path):
    await fill(4)
    anchor = await anchors.write(tmp_path)
    # rewrite entry 2 and every hash after it, consistently
    rows = await AuditEntry.all().order_by("seq")
    prev = rows[0].entry_hash
    for row in rows[1:]:
        row.detail = "rewritten" if row.seq == 2 else row.detail
        row.prev_hash = prev
        prev = chain.row_hash(row)
        await sql(f"UPDATE audit_log SET detail = '{row.detail}', prev_hash = '{row.prev_hash}',"
                  f" entry_hash = '{prev}' WHERE seq = {row.seq}")
    assert (await verify_chain()).ok  # a chain rewritten whole links up: only an anchor tells
    problems = (await verify_chain([anchor])).problems
    assert problems == [
        f"anchor of entry 4 ({anchor.at}): entry 4 has another hash than when anchored:"
        " the chain was rewritten from it on"
    ]


def before_the_chain() -> str:
    """The migration the chain's migration follows (whatever its number after merges)."""
    [path] = (Path(__file__).resolve().parent.parent / "core" / "migrations").glob("*_audit_chain.py")
    module = importlib.import_module(f"core.migrations.{path.stem}")
    [(app, name)] = module.Migration.dependencies
    return f"{app}.{name}"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_entries_from_before_the_chain_are_chained_by_the_migration(kind, tmp_path, request):
    url = f"sqlite://{(tmp_path / 'bconnect.db').as_posix()}"
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
    EXECUTOR_CACHE.clear()
    await migrate(config=tortoise_config(url, [CORE_MODELS]), target=before_the_chain())
    for i in range(3):  # as the server before the chain wrote them
        await sql("INSERT INTO audit_log (at, actor, action, target, detail)"
                  f" VALUES ('2025-01-0{i + 1} 03:04:05.123456+00:00', 'cli', 'user.create', 'u{i}', '')")
    await Tortoise.close_connections()
    await open_database(url, [CORE_MODELS])
    try:
        rows = await AuditEntry.all().order_by("seq")
        assert [(r.seq, r.target) for r in rows] == [(1, "u0"), (2, "u1"), (3, "u2")]
        await audit.record("cli", "user.create", "u3")
        report = await verify_chain()
        assert report.ok and report.last_seq == 4
    finally:
        await close_database()
        EXECUTOR_CACHE.clear()


def test_cli_verify_and_anchor(make_deployment, capsys):
    d = make_deployment()
    cfg = ["--config", str(d.path)]
    assert main(["users", "add", "budi", "--role", "operator", "--agency", "dishub", *cfg]) == 0
    assert main(["users", "disable", "budi", *cfg]) == 0
    capsys.readouterr()

    assert main(["audit", "anchor", "--write", *cfg]) == 0
    line = capsys.readouterr().out.strip()
    assert '"seq": 2' in line
    assert (d.data_dir / "audit" / "anchors.jsonl").read_text().strip() == line

    assert main(["audit", "verify", *cfg]) == 0
    out = capsys.readouterr().out
    assert "audit chain: 2 entries, head 2; 1 anchors checked" in out and out.strip().endswith("intact")

    with sqlite3.connect(d.data_dir / "bconnect.db") as con:
        con.execute("UPDATE audit_log SET target = 'someone' WHERE seq = 1")
    assert main(["audit", "verify", *cfg]) == 1
    out = capsys.readouterr().out
    assert "  entry 1: edited: its fields do not match its hash" in out and "NOT INTACT: 1 findings" in out

    bad = d.data_dir / "copied-anchors.jsonl"
    bad.write_text("not json\n")
    assert main(["audit", "verify", "--anchors", str(bad), *cfg]) == 1
    assert f"{bad}:1: not an anchor line" in capsys.readouterr().err
