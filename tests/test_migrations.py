"""The accounts schema upgrades in place: data made at 0001 survives the later migrations."""

from __future__ import annotations

import sqlite3

from argon2 import PasswordHasher
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.auth import audit, users
from core.auth.sessions import create_session, lookup_session
from core.auth.tokens import create_api_token, lookup_api_token
from core.models import AuditEntry, User
from core.storage import CORE_MODELS, close_database, open_database, tortoise_config


def tables(db) -> set[str]:
    return {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_users_made_at_0001_survive_the_upgrade(tmp_path):
    db = tmp_path / "bconnect.db"
    url = f"sqlite://{db.as_posix()}"

    await migrate(config=tortoise_config(url, [CORE_MODELS]), target="core.0001_initial")
    await Tortoise.close_connections()
    assert "users" in tables(db) and "sessions" not in tables(db)
    columns = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(users)")}
    assert "last_login_at" not in columns  # really the old schema

    old_hash = PasswordHasher().hash("from-version-1")
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO users (username, password_hash, role, agency, disabled, created_at)"
            " VALUES (?, ?, 'officer', 'polri', 0, '2025-01-02 03:04:05.000000+00:00')",
            ("lama", old_hash),
        )

    await open_database(url, [CORE_MODELS])  # migrates to the latest version
    try:
        assert {"sessions", "api_tokens", "audit_log"} <= tables(db)
        user = await User.get(username="lama")
        assert (user.role, user.agency, user.disabled, user.last_login_at) == ("officer", "polri", False, None)
        assert user.created_at.year == 2025

        # the new tables work with the old row
        logged_in, why = await users.authenticate("lama", "from-version-1")
        assert why == "ok" and logged_in is not None and logged_in.last_login_at is not None
        token, _ = await create_session(logged_in)
        assert (await lookup_session(token))[1].username == "lama"
        bearer, _ = await create_api_token(logged_in, "old-client")
        assert (await lookup_api_token(bearer))[1].username == "lama"
        await audit.record("test", "migration.check", "lama")
        assert await AuditEntry.filter(action="migration.check").count() == 1
    finally:
        await close_database()

    # reopening an up-to-date database changes nothing
    await open_database(url, [CORE_MODELS])
    try:
        assert await User.filter(username="lama").count() == 1
    finally:
        await close_database()


async def test_clips_made_at_0003_survive_the_events_tables(tmp_path):
    """0004 adds the events and sink cursor tables beside the clips; the clips stay, events work."""
    from datetime import datetime, timezone

    from core.events import store
    from core.events.types import Event
    from core.models import EvidenceClip

    db = tmp_path / "bconnect.db"
    url = f"sqlite://{db.as_posix()}"
    await migrate(config=tortoise_config(url, [CORE_MODELS]), target="core.0003_clips")
    await Tortoise.close_connections()
    assert "clips" in tables(db) and "events" not in tables(db)
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO clips (id, camera_id, agency, created_by, note, status, reason, pre_s, post_s, file, created_at)"
            " VALUES ('00112233aabbccdd', 'dcam', 'dishub', 'dop', '', 'ready', '', 5, 5, 'x.mp4',"
            " '2026-01-02 03:04:05.000000+00:00')"
        )

    await open_database(url, [CORE_MODELS])
    try:
        assert {"events", "sink_cursors"} <= tables(db)
        assert (await EvidenceClip.get(id="00112233aabbccdd")).camera_id == "dcam"
        e = Event(kind="parking.violation", camera_id="dcam", wall_time=datetime(2026, 1, 2, tzinfo=timezone.utc),
                  clip_id="00112233aabbccdd", agency="dishub")
        stored, created = await store.insert(e)
        assert created and stored.seq == 1 and (await store.get(e.id)).event == e
        assert await store.cursor("a-sink", start=await store.last_seq()) == 1
    finally:
        await close_database()
