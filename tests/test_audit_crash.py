"""kill -9 in the middle of appends: the chain still verifies, and appending goes on after it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from core.cli import main
from support.postgres import postgres_url  # noqa: F401  (fixture)

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from core.auth import audit
    from core.storage import CORE_MODELS, open_database

    async def loop(url, name):
        await open_database(url, [CORE_MODELS])
        i = 0
        while True:
            await audit.record(name, "test.loop", str(i), "x" * 500)
            i += 1

    asyncio.run(loop(sys.argv[1], sys.argv[2]))
    """
)


def count(url: str, query: str = "SELECT count(*) FROM audit_log") -> list:
    """The answer of one query, through a connection of its own (the writers hold theirs)."""
    if url.startswith("sqlite://"):
        try:
            with sqlite3.connect(url.removeprefix("sqlite://"), timeout=5) as con:
                return [tuple(r) for r in con.execute(query).fetchall()]
        except sqlite3.OperationalError:  # not created yet
            return [(0,)]

    async def ask() -> list:
        con = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(r) for r in await con.fetch(query)]
        finally:
            await con.close()

    return asyncio.run(ask())


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_writers_killed_mid_append_leave_a_verifiable_chain(kind, make_deployment, capsys, tmp_path, request):
    d = make_deployment()
    url = f"sqlite://{(d.data_dir / 'bconnect.db').as_posix()}"
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        d.path.write_text(d.path.read_text().replace("[server]\n", f'[server]\ndatabase_url = "{url}"\n', 1))
    cfg = ["--config", str(d.path)]
    EXECUTOR_CACHE.clear()  # tortoise caches each model's INSERT per connection name, process-wide
    request.addfinalizer(EXECUTOR_CACHE.clear)
    assert main(["users", "add", "budi", "--role", "operator", "--agency", "dishub", *cfg]) == 0  # creates and migrates
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, str(script), url, name], env=env) for name in ("writer-a", "writer-b")]
    try:
        deadline = time.monotonic() + 60

        def both_wrote() -> bool:  # on a loaded machine one writer's interpreter may start seconds after the other's
            return {"writer-a", "writer-b"} <= {r[0] for r in count(url, "SELECT DISTINCT actor FROM audit_log")}

        while (count(url)[0][0] < 300 or not both_wrote()) and time.monotonic() < deadline:
            assert all(w.poll() is None for w in writers), "a writer died on its own"
            time.sleep(0.1)
    finally:
        for w in writers:
            os.kill(w.pid, signal.SIGKILL)
            w.wait(10)
    assert all(w.returncode == -signal.SIGKILL for w in writers)
    actors = {r[0] for r in count(url, "SELECT DISTINCT actor FROM audit_log")}
    assert {"writer-a", "writer-b"} <= actors  # both wrote: the appends really competed
    capsys.readouterr()

    assert main(["audit", "verify", *cfg]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("intact"), out
    entries = count(url)[0][0]
    assert f"audit chain: {entries} entries, head {entries};" in out  # no gap, no unchained row

    assert main(["users", "disable", "budi", *cfg]) == 0  # the next append continues the chain
    assert main(["audit", "verify", *cfg]) == 0
    assert f"head {entries + 1};" in capsys.readouterr().out
