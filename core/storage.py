"""Storage: tortoise-orm on SQLite (embedded default, WAL) or PostgreSQL.

The core and every plugin that keeps data register a :class:`ModelSet`; each is
a tortoise app with its own versioned migrations (tortoise's migration engine),
applied at start-up so that an upgrade keeps existing data.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from core.interfaces import ModelSet
from core.plugin_host import PluginHost

log = logging.getLogger("bconnect.storage")

# how long start-up waits for another process to release the database
LOCK_WAIT_S = 2.0

CORE_MODELS = ModelSet(app="core", models="core.models", migrations="core.migrations")


class StorageError(Exception):
    """The database cannot be opened or migrated; the message names it."""


def model_sets(host: PluginHost) -> list[ModelSet]:
    sets = [CORE_MODELS]
    for plugin, ms in host.collect("bconnect_register_models"):
        if not isinstance(ms, ModelSet):
            host.report_failure(plugin, "bconnect_register_models", TypeError(f"not a ModelSet: {ms!r}"))
            continue
        if any(ms.app == other.app for other in sets):
            host.report_failure(plugin, "bconnect_register_models", ValueError(f"app label {ms.app!r} taken"))
            continue
        sets.append(ms)
    return sets


def tortoise_config(url: str, sets: list[ModelSet]) -> dict[str, Any]:
    apps: dict[str, Any] = {}
    for ms in sets:
        app: dict[str, Any] = {"models": [ms.models], "default_connection": "default"}
        if ms.migrations:
            app["migrations"] = ms.migrations
        apps[ms.app] = app
    return {"connections": {"default": url}, "apps": apps, "use_tz": True, "timezone": "UTC"}


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite://"):
        return None
    rest = url[len("sqlite://"):].split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def check_sqlite_file(path: Path) -> None:
    """Fail with a one-line reason if the file is corrupt or locked.

    Checked with the stdlib driver before tortoise opens it, so nothing is
    written to a file we cannot trust: the integrity check reads through a
    read-only connection, the lock probe takes a write lock and releases it
    without writing.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if path.is_dir():
        raise StorageError(f"database {path} is a folder, not a file")
    try:
        _integrity(path)
        _write_lock_free(path)
    except sqlite3.DatabaseError as exc:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            raise StorageError(f"database {path} is locked by another process") from None
        if "not a database" in msg or "malformed" in msg:
            raise StorageError(f"database {path} is corrupt: {msg}") from None
        raise StorageError(f"database {path} is unreadable: {msg}") from None


def _integrity(path: Path) -> None:
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_WAIT_S)
    try:
        rows = con.execute("PRAGMA quick_check(3)").fetchall()
    finally:
        con.close()
    problems = [r[0] for r in rows if r and r[0] != "ok"]
    if not rows or problems:
        detail = "; ".join(problems) if problems else "no answer to the integrity check"
        raise StorageError(f"database {path} is corrupt: {detail}")


def _write_lock_free(path: Path) -> None:
    con = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
    finally:
        con.close()


async def open_database(url: str, sets: list[ModelSet]) -> None:
    """Check, connect and migrate to the latest version of every app."""
    path = sqlite_path(url)
    if path is not None:
        # the lock probe may wait LOCK_WAIT_S and the integrity check reads the file: not on the loop
        await asyncio.to_thread(check_sqlite_file, path)
    config = tortoise_config(url, sets)
    try:
        await migrate(config=config)
        await Tortoise.init(config=config, _enable_global_fallback=True)
    except Exception as exc:
        # a half-open connection keeps a worker thread alive: the process would never exit
        await close_database()
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"database {_safe(url)}: {type(exc).__name__}: {_one_line(exc)}") from None


async def close_database() -> None:
    try:
        await Tortoise.close_connections()
    except Exception as exc:  # closing must not hide why we are closing
        log.warning("closing the database failed: %s", exc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
