"""A real PostgreSQL server for a test, from Debian's ``postgresql`` package.

``postgres_url`` runs ``initdb`` and ``pg_ctl`` in a fresh folder as the
``postgres`` OS user (root may not run them) on a free port of 127.0.0.1, and
stops and removes it afterwards. Skipped, with the reason, only when the
server binaries are not installed (``apt-get install postgresql``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.testing.pytest_plugin import free_port


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _as_owner() -> tuple[list[str], str | None]:
    """The command prefix that runs a server binary, and the owner of its files."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run the server as")
    return ["runuser", "-u", "postgres", "--"], "postgres"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    prefix, owner = _as_owner()
    root = Path(tempfile.mkdtemp(prefix="bconnect-pg-"))
    if owner:
        shutil.chown(root, owner, owner)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60, cwd=root)

    try:
        try:
            run(str(bindir / "initdb"), "-D", str(data), "-U", "bconnect", "--auth=trust", "-E", "UTF8", "--no-sync")
            options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "bconnect", "bconnect")
        except subprocess.CalledProcessError as exc:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}\n{log}") from None
        yield f"postgres://bconnect@127.0.0.1:{port}/bconnect"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60, cwd=root)
        shutil.rmtree(root, ignore_errors=True)
