"""Every route of a full deployment needs a user, except the core's public few.

The app is built for Balikpapan's deployment (``plugins.toml``) with every
built-in plugin enabled, plus a plugin registered for this test only that adds
routes of every kind (plain, websocket, mounted router, mounted ASGI app, and
paths that look public). The test walks every route, expanding mounts, and
proves that an anonymous request is refused (401, or 303 to /login for a
browser page) and that a logged-in user gets through.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from core.auth.middleware import WS_POLICY_VIOLATION, is_public
from core.testing.app import add_user, bearer_headers, running_app, session_headers
from core.config import LoadedConfig, load_file
from core.hookspecs import hookimpl
from core.manifest import discover
from core.plugin_host import load_plugins

ROOT = Path(__file__).resolve().parent.parent

# (method, path) pairs the core leaves open; everything else must refuse anonymous users
EXPECTED_PUBLIC = {
    ("GET", "/api/health"),
    ("HEAD", "/api/health"),
    ("GET", "/login"),
    ("HEAD", "/login"),
    ("POST", "/login"),
    ("POST", "/api/login"),
    ("GET", "/static/probe"),
    ("HEAD", "/static/probe"),
}


class ProbePlugin:
    """Registered for this test only: routes of every shape a plugin may add."""

    @hookimpl
    def bconnect_register_routes(self, register):
        async def probe(request: Request):
            return JSONResponse({"user": request.user.username})

        async def ws(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_json({"user": websocket.user.username})
            await websocket.close()

        async def raw_app(scope, receive, send):
            await PlainTextResponse(scope["user"].username)(scope, receive, send)

        register(Route("/api/test/probe", probe, methods=["GET", "POST", "DELETE"]))
        register(Route("/test/page", probe, methods=["GET"]))
        register(Route("/api/health/detail", probe, methods=["GET"]))  # looks public, is not
        register(Route("/login", probe, methods=["PUT"]))  # a public path, but not this method
        register(Route("/static-extra/{name}", probe, methods=["GET"]))
        register(WebSocketRoute("/ws/test/probe", ws))
        register(Mount("/test/mounted", routes=[Route("/items/{item_id:int}", probe, methods=["GET", "PATCH"])]))
        register(Mount("/test/raw", app=raw_app))


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "http" or "websocket"
    method: str
    template: str
    path: str


PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
SAMPLES = {"int": "1", "float": "1.5", "path": "a/b", "uuid": "00000000-0000-0000-0000-000000000000"}


def concrete(template: str) -> str:
    return PARAM.sub(lambda m: SAMPLES.get(m.group(2) or "", "probe"), template)


def walk(routes: list[BaseRoute], prefix: str = "") -> list[Endpoint]:
    out: list[Endpoint] = []
    for route in routes:
        if isinstance(route, Route):
            template = prefix + route.path
            for method in sorted(route.methods or {"GET", "POST"}):
                out.append(Endpoint("http", method, template, concrete(template)))
        elif isinstance(route, WebSocketRoute):
            template = prefix + route.path
            out.append(Endpoint("websocket", "GET", template, concrete(template)))
        elif isinstance(route, Mount):
            inner = route.routes
            if inner:
                out.extend(walk(list(inner), prefix + route.path))
            else:  # an ASGI app (static files ...): probe a path beneath it
                template = prefix + route.path + "/probe"
                out.extend(Endpoint("http", m, template, template) for m in ("GET", "HEAD", "POST"))
        else:
            raise AssertionError(f"unknown kind of route, cannot prove it is protected: {route!r}")
    return out


def full_deployment(data_dir: Path) -> LoadedConfig:
    """plugins.toml with every built-in plugin on (config from the shipped files, else defaults)."""
    builtin = sorted(name for name, item in discover().items() if item.origin == "builtin")
    shipped: dict[str, dict] = {}
    for f in [ROOT / "plugins.toml", *sorted((ROOT / "deploy").glob("*.toml"))]:
        for name, table in tomllib.loads(f.read_text()).get("plugins", {}).items():
            shipped.setdefault(name, {k: v for k, v in table.items() if k != "enabled"})
    cfg = load_file(ROOT / "plugins.toml")
    d = cfg.deployment
    d = d.model_copy(
        update={
            "plugins": {name: shipped.get(name, {}) for name in builtin},
            "server": d.server.model_copy(update={"data_dir": str(data_dir), "secure_cookies": False}),
        }
    )
    return LoadedConfig(cfg.path, cfg.text, d)


async def ws_first_message(app: Starlette, path: str, headers: dict[str, str]) -> dict:
    """Open a websocket on the ASGI app directly; return what it sends first."""
    connected = False
    sent: list[dict] = []
    first = asyncio.Event()

    async def receive():
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await first.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message):
        sent.append(message)
        first.set()

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "testserver", **headers}.items()],
        "client": ("127.0.0.1", 50001),
        "server": ("testserver", 80),
        "subprotocols": [],
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    assert sent, f"websocket {path} sent nothing"
    return sent[0]


def refused_anonymously(ep: Endpoint, status: int, location: str | None, accept_html: bool) -> bool:
    if status == 401:
        return True
    browser_page = accept_html and ep.method in ("GET", "HEAD") and not ep.path.startswith("/api/")
    return browser_page and status == 303 and (location or "").startswith("/login?next=")


@pytest.fixture
def full_cfg(tmp_path):
    return full_deployment(tmp_path / "data")


async def test_every_route_needs_a_user_except_the_core_public_ones(full_cfg):
    host = load_plugins(full_cfg)
    host.pm.register(ProbePlugin(), name="test_probe")
    assert set(host.enabled()) >= {n for n, i in discover().items() if i.origin == "builtin"}

    async with running_app(full_cfg, host=host) as (app, client):
        endpoints = walk(app.routes)
        templates = {ep.template for ep in endpoints}
        # the probe plugin's routes are really there, mounts expanded
        assert {"/api/test/probe", "/ws/test/probe", "/test/mounted/items/{item_id:int}", "/test/raw/probe"} <= templates
        public = {(ep.method, concrete(ep.template)) for ep in endpoints if ep.kind == "http" and is_public(ep.method, ep.path)}
        assert public == EXPECTED_PUBLIC

        admin = await add_user("probe-admin", role="admin", agency="pemkot")
        problems: list[str] = []
        checked = 0
        for ep in endpoints:
            if ep.kind == "http" and is_public(ep.method, ep.path):
                continue
            checked += 1
            name = f"{ep.method} {ep.template}"
            if ep.kind == "websocket":
                msg = await ws_first_message(app, ep.path, {})
                if not (msg["type"] == "websocket.close" and msg.get("code") == WS_POLICY_VIOLATION):
                    problems.append(f"{name}: anonymous websocket got {msg}")
                for how in (await session_headers(admin), await bearer_headers(admin, f"ws-{checked}")):
                    msg = await ws_first_message(app, ep.path, {**how, "origin": "http://testserver"})
                    if msg.get("code") == WS_POLICY_VIOLATION:
                        problems.append(f"{name}: logged-in websocket refused: {msg}")
                continue

            for accept in ("application/json", "text/html"):
                r = await client.request(ep.method, ep.path, headers={"accept": accept})
                if not refused_anonymously(ep, r.status_code, r.headers.get("location"), accept == "text/html"):
                    problems.append(f"{name} (accept {accept}): anonymous request got {r.status_code}")

            for via, how in (("session", await session_headers(admin)), ("token", await bearer_headers(admin, f"t{checked}"))):
                r = await client.request(ep.method, ep.path, headers={**how, "accept": "application/json"})
                # (the middleware redirects only browser pages; this asks for JSON, so a refusal is a 401/403)
                if r.status_code == 401 or (r.status_code == 403 and "CSRF" in r.text):
                    problems.append(f"{name}: logged-in ({via}) request refused: {r.status_code} {r.text[:120]}")
                if r.status_code >= 500:
                    print(f"NOTE {name}: {r.status_code} {r.text[:200]}")
        assert not problems, "\n".join(problems)
        assert checked >= 20  # the full deployment really has its routes


async def test_the_probe_routes_answer_a_logged_in_user(full_cfg):
    """The walk above only proves "not refused"; here the handlers really run."""
    host = load_plugins(full_cfg)
    host.pm.register(ProbePlugin(), name="test_probe")
    async with running_app(full_cfg, host=host) as (app, client):
        user = await add_user("ana", role="viewer", agency="dishub")
        session = await session_headers(user)
        assert (await client.get("/api/test/probe", headers=session)).json() == {"user": "ana"}
        assert (await client.post("/api/test/probe", headers=session)).json() == {"user": "ana"}
        assert (await client.get("/test/mounted/items/7", headers=session)).json() == {"user": "ana"}
        assert (await client.get("/test/raw/x", headers=session)).text == "ana"
        assert (await client.put("/login", headers=session)).json() == {"user": "ana"}
        msg = await ws_first_message(app, "/ws/test/probe", {"cookie": session["Cookie"], "origin": "http://testserver"})
        assert msg["type"] == "websocket.accept"
        # a page from another origin cannot ride the session cookie into a websocket
        msg = await ws_first_message(app, "/ws/test/probe", {"cookie": session["Cookie"], "origin": "http://evil.example"})
        assert msg["type"] == "websocket.close" and msg["code"] == WS_POLICY_VIOLATION
