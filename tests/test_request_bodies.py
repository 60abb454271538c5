"""Hostile JSON bodies get a 400 with a reason on every route, never a 500.

The app is the full deployment of ``test_route_auth`` (every built-in plugin,
the placeholder cameras of ``plugins.toml``), called in-process as an admin.
Every route that takes a body is sent each hostile body with real ids in its
path (a camera with PTZ, a Polri unit), so that the handler really reads it.
"""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request
from starlette.routing import Route

from core.testing.app import add_user, bearer_headers, running_app
from core.hookspecs import hookimpl
from core.plugin_host import load_plugins
from core.request_body import BodyError, parse_json
from test_route_auth import concrete, full_deployment, walk

HUGE = "1" * 401
HOSTILE = {
    "nested arrays": "[" * 10000,
    "nested objects": '{"a":' * 10000,
    "nested then closed": "[" * 500 + "]" * 500,
    "huge integer": HUGE,
    "huge integers as values": '{"pan": %s, "tilt": %s, "zoom": %s, "level": %s, "pre_s": %s, "post_s": %s, '
    '"lat": %s, "lon": %s, "preset": %s, "username": %s, "password": %s}' % ((HUGE,) * 11),
    "huge float": '{"pan": 1e400, "lat": 1e400, "pre_s": 1e400, "level": 1e400}',
    "NaN": '{"pan": NaN, "lat": NaN, "pre_s": NaN, "level": NaN}',
    "5000 digits": "1" * 5000,
    "negative huge integer": "-" + HUGE,
}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = re.compile(r"nested more than 32 levels|integer too large|expected a number|not valid JSON")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_reader_refuses_each_hostile_body_with_a_reason(name):
    with pytest.raises(BodyError) as exc:
        parse_json(HOSTILE[name])
    assert re.match(r"(body|pan|\[0\]): (nested|integer too large|expected a number)", exc.value.reason), exc.value.reason


def test_the_reader_keeps_ordinary_bodies():
    assert parse_json(b'{"pan": -0.5, "preset": 3, "note": "x", "list": [[1, 2]]}') == {
        "pan": -0.5, "preset": 3, "note": "x", "list": [[1, 2]]
    }
    assert parse_json(str(2**53 - 1)) == 2**53 - 1
    assert parse_json("[" * 32 + "]" * 32) is not None


class BrokenPlugin:
    """Registered for one test: a handler that overflows on its input, as a future bug might."""

    @hookimpl
    def bconnect_register_routes(self, register):
        async def overflow(request: Request):
            return float(int((await request.body()) or b"0"))  # OverflowError for 401 digits

        async def recurse(request: Request):
            def down(n):
                return down(n + 1)

            return down(0)

        register(Route("/api/test/overflow", overflow, methods=["POST"]))
        register(Route("/api/test/recurse", recurse, methods=["POST"]))


async def test_hostile_json_on_every_route_is_a_4xx_with_a_reason(tmp_path):
    cfg = full_deployment(tmp_path / "data")
    host = load_plugins(cfg)
    host.pm.register(BrokenPlugin(), name="test_broken")
    async with running_app(cfg, host=host) as (app, client):
        admin = await add_user("fuzz-admin", role="admin", agency="pemkot")
        auth = await bearer_headers(admin)
        ids = {"camera_id": "atcs-bm-01", "unit": "probe"}
        units = (await client.get("/api/polri_etle/units", headers=auth)).json()["units"]
        if units:
            ids["unit"] = units[0]["unit"] if "unit" in units[0] else units[0]["id"]
        assert app.state.services.ptz.has(ids["camera_id"])

        problems, read = [], 0
        for ep in walk(app.routes):
            if ep.kind != "http" or ep.method not in BODY_METHODS or ep.template.startswith("/api/test/"):
                continue
            path = ep.template
            for key, value in ids.items():
                path = path.replace("{%s}" % key, value)
            path = concrete(path)
            for name, body in HOSTILE.items():
                r = await client.request(
                    ep.method, path, content=body, headers={**auth, "content-type": "application/json"}
                )
                if r.status_code >= 500 and r.status_code not in (502, 503):  # 502/503: the placeholder camera
                    problems.append(f"{ep.method} {path} ({name}): {r.status_code} {r.text[:160]}")
                elif r.status_code >= 400 and not r.json().get("error"):
                    problems.append(f"{ep.method} {path} ({name}): {r.status_code} without a reason")
                read += r.status_code == 400 and bool(REFUSED.search(r.json()["error"]))
        assert not problems, "\n".join(problems)
        assert read >= 40  # the bodies really reached the reader (login, clips, PTZ, Polri)

        # the findings of the probe, one by one
        for path in ("/api/cameras/atcs-bm-01/ptz/move", "/api/cameras/atcs-bm-01/clips", "/api/login"):
            for body in ("[" * 10000, '{"pan": %s, "pre_s": %s, "username": %s}' % (HUGE, HUGE, HUGE)):
                r = await client.post(path, content=body, headers={**auth, "content-type": "application/json"})
                assert r.status_code == 400, (path, r.status_code, r.text)
                assert REFUSED.search(r.json()["error"]), r.text

        # what slips past the reader into a handler is still a 400, without a traceback
        for path in ("/api/test/overflow", "/api/test/recurse"):
            r = await client.post(path, content=HUGE, headers=auth)
            assert r.status_code == 400, (path, r.status_code, r.text)
            assert r.json() == {"error": "request: a value is too large or nested too deeply", "status": 400}


async def test_non_ascii_digits_in_numbers_and_headers_are_a_4xx_with_a_reason(tmp_path):
    """'²' (and '\\xb2' in a latin-1 header) passes str.isdigit() but not int(): each was a 500."""
    from core.request_body import limited_body

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"\xb2")]}
    assert await limited_body(Request(scope), 100) is None  # refused as too large or unreadable, not a ValueError

    async with running_app(full_deployment(tmp_path / "data")) as (app, client):
        admin = await add_user("digits-admin", role="admin", agency="pemkot")
        auth = await bearer_headers(admin)
        for url, extra, reason in [
            ("/api/events?limit=%C2%B2", {}, "limit: expected a whole number"),
            ("/api/events?since=0001-01-01T00:00:00%2B08:00", {}, "since: '0001-01-01T00:00:00+08:00' is out of range"),
            ("/api/events/stream", {"accept": "text/event-stream", "last-event-id": b"\xb2"}, "Last-Event-ID: expected"),
        ]:
            r = await client.get(url, headers={**auth, **extra})
            assert r.status_code == 400 and r.json()["error"].startswith(reason), (url, r.text)
        r = await client.put("/api/cameras/atcs-bm-01/zones", content=b'{"camera": "atcs-bm-01", "zones": []}',
                             headers={**auth, "content-type": "application/json", "if-match": b"\xb2"})
        assert r.status_code == 400 and r.json()["error"].startswith("If-Match: expected"), r.text
