"""kill -9 in the middle of appends: the chain still verifies, and appending goes on after it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from core.cli import main

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


def count(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_two_writers_killed_mid_append_leave_a_verifiable_chain(make_deployment, capsys, tmp_path):
    d = make_deployment()
    cfg = ["--config", str(d.path)]
    assert main(["users", "add", "budi", "--role", "operator", "--agency", "dishub", *cfg]) == 0  # creates and migrates
    db = d.data_dir / "bconnect.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, str(script), f"sqlite://{db.as_posix()}", name], env=env)
        for name in ("writer-a", "writer-b")
    ]
    try:
        deadline = time.monotonic() + 60
        while count(db) < 300 and time.monotonic() < deadline:
            assert all(w.poll() is None for w in writers), "a writer died on its own"
            time.sleep(0.1)
    finally:
        for w in writers:
            os.kill(w.pid, signal.SIGKILL)
            w.wait(10)
    assert all(w.returncode == -signal.SIGKILL for w in writers)
    with sqlite3.connect(db) as con:
        actors = {r[0] for r in con.execute("SELECT DISTINCT actor FROM audit_log")}
    assert {"writer-a", "writer-b"} <= actors  # both wrote: the appends really competed
    capsys.readouterr()

    assert main(["audit", "verify", *cfg]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("intact"), out
    entries = count(db)
    assert f"audit chain: {entries} entries, head {entries};" in out  # no gap, no unchained row

    assert main(["users", "disable", "budi", *cfg]) == 0  # the next append continues the chain
    assert main(["audit", "verify", *cfg]) == 0
    assert f"head {entries + 1};" in capsys.readouterr().out
