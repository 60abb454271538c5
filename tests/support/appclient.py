"""Run a B-Connect app in-process: its lifespan (database, scheduler, plugins) and an HTTP client.

The app is the real one from ``core.app.create_app``; requests go through its
middleware (auth included) via httpx's ASGI transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def bearer_headers(username: str = "ops") -> dict[str, str] | None:
    """An admin's bearer token header, made through the accounts code; None until it exists."""
    try:
        from core.auth import users
    except ImportError:
        return None
    if not hasattr(users, "issue_token") or not hasattr(users, "create_user"):
        return None
    await users.create_user(username, "a-long-test-password-1", "admin", "pemkot", actor="test")
    token = await users.issue_token(username, "test", actor="test")
    return {"Authorization": f"Bearer {token}"}
