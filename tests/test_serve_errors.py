"""``bconnect serve``: one-line start-up errors, and flags that override the file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from core.testing.pytest_plugin import bconnect, free_port, wait_http


def one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/health", timeout=5) as response:
        return json.load(response)


def test_port_in_use(make_deployment):
    d = make_deployment()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", d.port))
        taken.listen()
        result = bconnect("serve", "--config", str(d.path), timeout=30)
    assert one_line_error(result) == f"error: cannot listen on 127.0.0.1:{d.port}: port in use"
    assert not (d.data_dir / "bconnect.db").exists()  # nothing was started


def test_broken_toml_is_one_line(make_deployment):
    d = make_deployment("[plugins.parking_rule\n")
    line = one_line_error(bconnect("serve", "--config", str(d.path)))
    assert line.startswith(f"error: {d.path}:{len(d.path.read_text().splitlines())}: ")
    assert "invalid TOML" in line


def test_missing_config_file_is_one_line(tmp_path):
    line = one_line_error(bconnect("serve", "--config", str(tmp_path / "absent.toml")))
    assert line == f"error: {tmp_path / 'absent.toml'}: cannot read: No such file or directory"


@pytest.fixture
def serve(tmp_path) -> Iterator:
    """Start ``bconnect serve ARGS``; wait for health on ``port``; stopped after the test."""
    procs: list[subprocess.Popen] = []

    def start(args: list[str], port: int, env: dict[str, str]) -> str:
        with open(tmp_path / f"serve-{len(procs)}.log", "wb") as log:  # the child keeps its own handle
            proc = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", *args], stdout=log,
                                    stderr=subprocess.STDOUT, env={**os.environ, **env})
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/api/health", 30, proc)
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def test_flags_override_the_file(make_deployment, serve, tmp_path):
    d = make_deployment()
    flag_port = free_port()
    flag_dir = tmp_path / "flag-data"
    # the file says a host that cannot be bound (a name under .invalid never resolves) and d.port: the flags must win
    d.path.write_text(d.path.read_text().replace('host = "127.0.0.1"', 'host = "unbindable.invalid"'))
    env = {"BCONNECT_DATA_DIR": str(tmp_path / "env-data")}
    args = ["--config", str(d.path), "--host", "127.0.0.1", "--port", str(flag_port), "--data-dir", str(flag_dir)]
    url = serve(args, flag_port, env)
    assert health(url)["status"] == "ok"
    assert (flag_dir / "bconnect.db").exists()
    assert not (tmp_path / "env-data").exists() and not d.data_dir.exists()
    # the first-start banner names the address actually served, not the file's
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert f"log in at http://127.0.0.1:{flag_port}/login" in log, log[-2000:]


def test_data_dir_from_environment(make_deployment, start_server, tmp_path):
    d = make_deployment()
    env_dir = tmp_path / "env-data"
    server = start_server(d, env={"BCONNECT_DATA_DIR": str(env_dir)})
    assert health(server.url)["status"] == "ok"
    assert (env_dir / "bconnect.db").exists() and not d.data_dir.exists()
