"""The OpenAPI schema covers every route, and schemathesis finds no server error.

The schema is built from the handlers' docstrings (``core/openapi.py``). The
first test walks the routes of the full deployment and fails for a route
without a schema entry, and for an entry without a route: a new route gets
its entry in its handler's docstring. The second fuzzes a live ``bconnect
serve`` with schemathesis as an admin and as an operator: no answer may be a
5xx that its operation does not document (a 502 from a PTZ camera that is
not there, a 503 from a camera with no video yet), and no operation documents 500.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_route_auth import full_deployment, walk

from core.testing.app import add_user, bearer_headers, running_app
from core.openapi import build_schema
from core.testing.pytest_plugin import bconnect

ROOT = Path(__file__).resolve().parent.parent
FUZZ_SECONDS = int(os.environ.get("BCONNECT_FUZZ_SECONDS", "50"))  # per user; two users
PASSWORD = "a-long-test-password-1"


def schema_keys(schema: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


async def test_every_route_has_a_schema_entry_and_every_entry_a_route(tmp_path):
    async with running_app(full_deployment(tmp_path / "data")) as (app, client):
        routes = {(ep.method, re.sub(r"\{(\w+):\w+\}", r"{\1}", ep.template))
                  for ep in walk(app.routes)
                  if ep.kind == "http" and ep.method != "HEAD" and not ep.template.startswith("/static/")}
        schema = build_schema(app.routes)
        documented = schema_keys(schema)
        handlers = {(m, p): f"{getattr(r.endpoint, '__module__', '?')}.{getattr(r.endpoint, '__qualname__', r.endpoint)}"
                    for r in app.routes if hasattr(r, "endpoint") and r.methods for m in r.methods for p in [r.path]}
        missing = [f"{m} {p}: no schema entry; add a YAML block after '---' to the docstring of {handlers.get((m, p), 'its handler')} "
                   "(see core/openapi.py)" for m, p in sorted(routes - documented)]
        stale = [f"{m} {p}: in the schema, but no such route" for m, p in sorted(documented - routes)]
        assert not missing + stale, "\n".join(missing + stale)
        assert len(routes) >= 30
        operation_ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
        assert not [i for i in set(operation_ids) if operation_ids.count(i) > 1], "operationIds must be unique"

        for path, ops in schema["paths"].items():
            for method, op in ops.items():
                assert op["summary"], f"{method} {path}: no summary"
                assert "500" not in op["responses"], f"{method} {path}: a 500 is never an answer to document"
                public = op["security"] == []
                r = await client.request(method.upper(), re.sub(r"\{\w+\}", "x", path), headers={"accept": "application/json"})
                assert public == (r.status_code != 401), f"{method} {path}: security {op['security']}, anonymous got {r.status_code}"

        # served to any logged-in user; an integrator generates a client from it
        viewer = await add_user("schema-reader", role="viewer", agency="dishub")
        r = await client.get("/openapi.json", headers=await bearer_headers(viewer))
        assert r.status_code == 200 and r.json() == json.loads(json.dumps(schema))
        assert r.json()["openapi"].startswith("3.1")
        assert (await client.get("/openapi.json")).status_code == 401


def fuzz_config(path: Path, ids: dict[str, str]) -> Path:
    """schemathesis.toml: real ids in paths, so that requests reach the handlers rather than a 404."""
    path.write_text("\n".join(["[parameters]", *(f'"path.{k}" = "{v}"' for k, v in ids.items()), ""]))
    return path


@pytest.mark.timeout(2 * FUZZ_SECONDS + 150)  # two runs, the server's start and four `bconnect users` calls
def test_schemathesis_finds_no_server_error(make_deployment, start_server, tmp_path):
    dep = make_deployment()  # a free port and a data folder; then Balikpapan's full deployment file on them
    text = (ROOT / "plugins.toml").read_text()
    for key, value in (("port", dep.port), ("data_dir", f'"{dep.data_dir.as_posix()}"'), ("secure_cookies", "false")):
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
        assert n == 1, key
    dep.path.write_text(text)
    config = ["--config", str(dep.path)]
    tokens = {}
    for user, role in (("fuzz-admin", "admin"), ("fuzz-operator", "operator")):
        added = bconnect("users", "add", user, "--role", role, "--agency", "dishub", "--password-stdin", *config,
                         stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        token = bconnect("users", "token", user, "--name", "fuzz", *config)
        assert token.returncode == 0, token.stderr
        tokens[user] = token.stdout.strip()
    server = start_server(dep)
    admin = {"Authorization": f"Bearer {tokens['fuzz-admin']}"}
    schema = httpx.get(server.url + "/openapi.json", headers=admin).json()
    units = httpx.get(server.url + "/api/polri_etle/units", headers=admin).json()["units"]
    cameras = [c for c in httpx.get(server.url + "/api/cameras", headers=admin).json() if "ptz" in c["capabilities"]]
    # a violation to act on, so that the fuzzed violation routes reach their handlers rather than a 404
    made = httpx.post(server.url + "/api/violations", headers=admin,
                      json={"camera": cameras[0]["id"], "kind": "parking.violation", "wall_time": "2026-01-05T16:00:00+08:00"})
    assert made.status_code == 201, made.text
    ids = {"camera_id": cameras[0]["id"], "unit": units[0]["unit"], "violation_id": str(made.json()["id"])}
    settings = fuzz_config(tmp_path / "schemathesis.toml", ids)
    assert all("500" not in op["responses"] for ops in schema["paths"].values() for op in ops.values())

    for user, token in tokens.items():
        started = time.monotonic()
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "--no-color", "--config-file", str(settings), "run",
             server.url + "/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", "no_undocumented_server_error", "--max-time", str(FUZZ_SECONDS), "--workers", "2", "--seed", "11",
             "--request-timeout", "10", "--suppress-health-check", "all", "--warnings", "off"],
            capture_output=True, text=True, timeout=FUZZ_SECONDS + 120, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "support"), os.environ.get("PYTHONPATH", "")]),
                 "SCHEMATHESIS_HOOKS": "fuzz_hooks"},
        )
        took = time.monotonic() - started
        print(f"schemathesis as {user}: {took:.0f} s\n{run.stdout[-6000:]}")
        assert run.returncode == 0, f"schemathesis as {user} (exit {run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}\n{server.log()[-3000:]}"
        # every operation but GET /openapi.json: schemathesis leaves out the URL it loaded the schema from
        operations = sum(len(ops) for ops in schema["paths"].values()) - 1
        assert f"Tested: {operations}" in run.stdout and "No issues found" in run.stdout, run.stdout[-2000:]
    unhandled = [line for line in server.log().splitlines() if "unhandled error on" in line]  # core/errors.py
    assert not unhandled, "\n".join(unhandled[:5])
