"""Run a B-Connect app in-process: the short names the tests use for :mod:`core.testing.app`.

The app is the real one from ``core.app.create_app``; requests go through its
middleware (auth included) via httpx's ASGI transport.
"""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette

from core.testing import app as testing


def running(app: Starlette) -> contextlib.AbstractAsyncContextManager:
    """``async with running(app) as client``: the app's lifespan and an HTTP client."""
    return testing.serving(app, base_url="http://127.0.0.1")


async def bearer_headers(username: str = "ops", role: str = "admin", agency: str = "pemkot") -> dict[str, str]:
    """A new user's bearer token header (an admin unless told otherwise)."""
    user = await testing.add_user(username, "a-long-test-password-1", role=role, agency=agency)
    return await testing.bearer_headers(user)
