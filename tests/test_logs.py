"""Structured logs: JSON lines when stderr is not a terminal; a plugin failure names the plugin."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

from core.logs import setup_logging
from core.testing.pytest_plugin import wait_http
from support.thirdparty import thirdparty  # noqa: F401  (fixture)


def json_lines(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        if line.strip():
            records.append(json.loads(line))  # every line of the log is one JSON object
    return records


def test_serve_logs_json_lines_with_the_failing_plugin(make_deployment, thirdparty, tmp_path):
    d = make_deployment('[plugins.tp_hello]\n[plugins.tp_faulty]\nfail_in = ["startup"]\n')
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "wb") as stderr, open(tmp_path / "stdout.log", "wb") as stdout:
        # stderr is a file, not a terminal
        proc = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--config", str(d.path)],
                                stdout=stdout, stderr=stderr, env={**os.environ, **thirdparty.env})
        try:
            wait_http(d.base_url + "/api/health", 30, proc)
        finally:
            proc.terminate()
            proc.wait(10)
    records = json_lines(stderr_path.read_text())
    assert records, "no log lines"
    for record in records:
        assert {"time", "level", "name", "message"} <= record.keys()
    failure = [r for r in records if r.get("plugin") == "tp_faulty"]
    assert failure, stderr_path.read_text()
    assert failure[0]["level"] == "ERROR"
    assert failure[0]["name"] == "bconnect.plugins"
    assert failure[0]["where"] == "bconnect_startup"
    assert "tp_faulty broke in startup" in failure[0]["message"]
    assert any(r["message"].startswith("B-Connect started") for r in records)


def test_text_logs_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging()
        logging.getLogger("bconnect.test").warning("camera %s offline", "cam-7")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = stream.getvalue().strip()
    assert line.endswith("WARNING bconnect.test: camera cam-7 offline")
    assert not line.startswith("{")


def test_json_logs_off_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(level="debug")
        logging.getLogger("bconnect.plugins").error("plugin x failed", extra={"plugin": "x", "where": "job a"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    record = json.loads(stream.getvalue())
    assert (record["level"], record["name"], record["message"]) == ("ERROR", "bconnect.plugins", "plugin x failed")
    assert (record["plugin"], record["where"]) == ("x", "job a")
