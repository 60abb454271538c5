"""Storage: SQLite in WAL mode, locked and corrupt files refused untouched, PostgreSQL, migrations."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from core.app import create_app
from core.config import load_file
from core.testing.pytest_plugin import bconnect
from support.appclient import running
from support.postgres import postgres_url  # noqa: F401  (fixture)
from support.thirdparty import thirdparty  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "support" / "storage_probe.py"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_database(path: Path) -> Path:
    """A database with something in it, written the way B-Connect writes (WAL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE evidence (id INTEGER PRIMARY KEY, plate TEXT)")
    con.executemany("INSERT INTO evidence (plate) VALUES (?)", [(f"KT {n} AB",) for n in range(500)])
    con.commit()
    con.close()
    return path


def refused(deployment) -> str:
    """Run serve, expect it to stop at once; return its one error line."""
    result = bconnect("serve", "--config", str(deployment.path), timeout=30)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().endswith(errors[0])
    return errors[0]


async def test_sqlite_is_in_wal_mode_under_data_dir(make_deployment):
    d = make_deployment()
    async with running(create_app(load_file(d.path))) as client:
        assert (await client.get("/api/health")).status_code == 200
        db = d.data_dir / "bconnect.db"
        assert db.exists()
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_locked_database_is_refused_and_left_untouched(make_deployment):
    d = make_deployment()
    db = stored_database(d.data_dir / "bconnect.db")
    before = digest(db)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"con = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
         "con.execute('BEGIN EXCLUSIVE')\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert refused(d) == f"error: database {db} is locked by another process"
    finally:
        holder.kill()
        holder.wait()
    assert digest(db) == before
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM evidence").fetchone()[0] == 500


def test_file_that_is_not_a_database_is_refused_and_left_untouched(make_deployment):
    d = make_deployment()
    db = d.data_dir / "bconnect.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is the evidence index, overwritten by a careless copy\n" * 200)
    before = digest(db)
    assert refused(d) == f"error: database {db} is corrupt: file is not a database"
    assert digest(db) == before


def test_damaged_database_is_refused_and_left_untouched(make_deployment):
    d = make_deployment()
    db = stored_database(d.data_dir / "bconnect.db")
    damaged = bytearray(db.read_bytes())
    page = 4096
    damaged[2 * page : 2 * page + 1500] = b"\xff" * 1500  # a b-tree page of the table
    db.write_bytes(bytes(damaged))
    before = digest(db)
    line = refused(d)
    assert line.startswith(f"error: database {db} is corrupt: ")
    assert digest(db) == before


def probe(deployment, thirdparty, *args: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, str(PROBE), str(deployment.path), *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), thirdparty.env["PYTHONPATH"]])},
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_plugin_models_migrate_and_keep_their_data(make_deployment, thirdparty):
    """Version 1 of a plugin's table holds data; version 2 adds a column; the data survives."""
    d = make_deployment("[plugins.tp_notes]\n")
    migrations = thirdparty.path / "tp_notes" / "migrations"

    made = bconnect("makemigrations", "--config", str(d.path), "tp_notes", env=thirdparty.env)
    assert made.returncode == 0, made.stderr
    assert [p.name for p in sorted(migrations.glob("0*.py"))] == ["0001_initial.py"]

    probe(d, thirdparty, "write", "KT 1234 AB parked at Simpang Rapak")
    assert probe(d, thirdparty, "read") == [{"id": 1, "text": "KT 1234 AB parked at Simpang Rapak"}]

    models = thirdparty.path / "tp_notes" / "models.py"
    models.write_text(
        models.read_text().replace(
            "    text = fields.CharField(max_length=200)\n",
            "    text = fields.CharField(max_length=200)\n    priority = fields.IntField(default=3, db_default=3)\n",
        )
    )
    made = bconnect("makemigrations", "--config", str(d.path), "tp_notes", env=thirdparty.env)
    assert made.returncode == 0, made.stderr
    assert len(list(migrations.glob("0002_*.py"))) == 1

    assert probe(d, thirdparty, "read") == [{"id": 1, "text": "KT 1234 AB parked at Simpang Rapak", "priority": 3}]
    # nothing left to write once the models and the migrations agree
    again = bconnect("makemigrations", "--config", str(d.path), "tp_notes", env=thirdparty.env)
    assert again.returncode == 0 and "No changes detected" in again.stdout


def test_makemigrations_names_an_unknown_app(make_deployment):
    d = make_deployment()
    result = bconnect("makemigrations", "--config", str(d.path), "nope")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: unknown app 'nope' (apps of this deployment: core")


def test_postgresql_migrate_write_read(make_deployment, thirdparty, postgres_url):
    d = make_deployment('[plugins.tp_notes]\n')
    text = d.path.read_text().replace("[server]\n", f'[server]\ndatabase_url = "{postgres_url}"\n', 1)
    d.path.write_text(text)
    made = bconnect("makemigrations", "--config", str(d.path), "tp_notes", env=thirdparty.env)
    assert made.returncode == 0, made.stderr

    probe(d, thirdparty, "write", "Polri ETLE: KT 9 ZZ")
    probe(d, thirdparty, "write", "Dishub: KT 10 ZZ")
    notes = probe(d, thirdparty, "read")  # a new process, a new connection: it is in the server
    assert [n["text"] for n in notes] == ["Polri ETLE: KT 9 ZZ", "Dishub: KT 10 ZZ"]
    assert not (d.data_dir / "bconnect.db").exists()  # nothing went to SQLite


def test_unreachable_postgresql_is_one_line_without_the_password(make_deployment):
    d = make_deployment()
    from core.testing.pytest_plugin import free_port

    url = f"postgres://bconnect:s3cret@127.0.0.1:{free_port()}/bconnect"
    d.path.write_text(d.path.read_text().replace("[server]\n", f'[server]\ndatabase_url = "{url}"\n', 1))
    line = refused(d)
    assert line.startswith("error: database postgres://bconnect:***@127.0.0.1:")
    assert "s3cret" not in line
