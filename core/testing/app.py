"""Helpers for tests that need a logged-in client (core and plugin authors alike).

Import only from tests: it needs ``httpx`` (the ``test`` extra).

    async with running_app(load_file(path)) as (app, client):
        await add_user("ana", "secret-pass-1", role="operator", agency="transport")
        headers = await login(client, "ana", "secret-pass-1")  # {"X-CSRF-Token": ...}
        r = await client.post("/api/something", headers=headers)

``serving(app)`` does the same for an app the test built itself.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from core.auth.sessions import COOKIE, create_session
from core.auth.tokens import create_api_token
from core.auth.users import create_user
from core.config import LoadedConfig
from core.models import User
from core.plugin_host import PluginHost

FIRST_ADMIN_RE = re.compile(r"^first admin: (\S+) / (\S+) ", re.MULTILINE)


@contextlib.asynccontextmanager
async def serving(app: Starlette, *, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan (database migrated, plugins started) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def running_app(
    cfg: LoadedConfig, *, host: PluginHost | None = None, base_url: str = "http://testserver"
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The real app of a deployment, :func:`serving`."""
    from core.app import create_app

    app = create_app(cfg, host=host)
    async with serving(app, base_url=base_url) as client:
        yield app, client


async def add_user(
    username: str, password: str = "correct-horse-1", *, role: str = "admin", agency: str = "admin"
) -> User:
    """A user in the app's database; an admin (who sees every declared agency) unless told otherwise."""
    return await create_user(username, password, role, agency, actor="test")


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """Log ``client`` in through ``POST /api/login``; returns the CSRF header to send."""
    r = await client.post("/api/login", json={"username": username, "password": password})
    r.raise_for_status()
    return {"X-CSRF-Token": r.json()["csrf_token"]}


async def session_headers(user: User) -> dict[str, str]:
    """Cookie and CSRF headers of a fresh session, without the cost of a login."""
    token, session = await create_session(user)
    return {"Cookie": f"{COOKIE}={token}", "X-CSRF-Token": session.csrf_token}


async def bearer_headers(user: User, name: str = "test") -> dict[str, str]:
    token, _ = await create_api_token(user, name)
    return {"Authorization": f"Bearer {token}"}


def first_admin(log_text: str) -> tuple[str, str] | None:
    """``(username, password)`` from a ``bconnect serve`` log, if it printed one."""
    m = FIRST_ADMIN_RE.search(log_text)
    return (m.group(1), m.group(2)) if m else None
