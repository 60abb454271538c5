"""pytest fixtures shipped for B-Connect and its plugin authors.

Auto-loaded through the ``pytest11`` entry point. Everything here starts real
components: a real deployment file, a real ``bconnect serve`` process on a
free port, a real SQLite database in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.testing.deployment import deployment_toml
from core.testing.net import free_port

# the camera driver conformance kit: its fixtures (rtsp_camera, closed_port) and marker
pytest_plugins = ("core.testing.conformance",)

@pytest.fixture(autouse=True)
def _database_closed_after_the_test() -> Iterator[None]:
    """Fail the test that leaves tortoise's process-wide database open, and close it.

    A database left open breaks every later ``open_database`` in this process ("global context
    fallback is already enabled") and keeps aiosqlite's worker thread alive, so the test process
    would never exit. Closing it here confines a leak to the test that caused it.
    """
    yield
    from tortoise.context import get_current_context

    left = get_current_context()
    if left is None:
        return
    try:
        asyncio.run(left.close_connections())
    except Exception:  # a connection that cannot close must still not poison the next test
        import tortoise.context

        tortoise.context._global_context = None
    finally:
        pytest.fail("the test left the database open (the app or open_database was not closed); closed it now")


@dataclass
class TestDeployment:
    path: Path
    data_dir: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def deployment_tables() -> str:
    """The areas, agencies and access rules every test deployment declares (TOML).

    None here: a suite overrides this fixture in its ``conftest.py`` with its city's.
    """
    return ""


@pytest.fixture
def make_deployment(tmp_path: Path, deployment_tables: str) -> Callable[..., TestDeployment]:
    """Write a deployment file: ``make_deployment(extra_toml="[plugins.x]\\n...")``.

    The file is :func:`core.testing.deployment.deployment_toml` with
    ``deployment_tables``, then ``extra_toml``.
    """

    def make(extra_toml: str = "", name: str = "deployment.toml") -> TestDeployment:
        port = free_port()
        data_dir = tmp_path / "data"
        path = tmp_path / name
        text = deployment_toml(data_dir, port=port, tables=deployment_tables) + "\n" + textwrap.dedent(extra_toml)
        path.write_text(text)
        return TestDeployment(path, data_dir, port)

    return make


def bconnect(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60):
    """Run the ``bconnect`` command of this environment; returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@dataclass
class LiveServer:
    deployment: TestDeployment
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return self.deployment.base_url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def wait_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start ``bconnect serve`` for a deployment; stopped after the test."""
    servers: list[LiveServer] = []

    def start(deployment: TestDeployment, env: dict[str, str] | None = None, timeout: float = 30.0) -> LiveServer:
        log_path = tmp_path / f"server-{len(servers)}.log"
        with open(log_path, "wb") as log_file:  # the child keeps its own handle
            proc = subprocess.Popen(
                [sys.executable, "-m", "core.cli", "serve", "--config", str(deployment.path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        server = LiveServer(deployment, proc, log_path)
        servers.append(server)
        try:
            wait_http(deployment.base_url + "/api/health", timeout, proc)
        except Exception as exc:
            server.stop()
            raise RuntimeError(f"server did not start: {exc}\n{server.log()[-3000:]}") from None
        return server

    yield start
    for s in servers:
        s.stop()
