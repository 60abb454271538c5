"""Default-deny authentication: every path needs a user unless the core made it public."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.responses import JSONResponse

# Only the core declares public paths; plugins cannot add to these.
PUBLIC_EXACT = frozenset({"/api/health", "/login", "/api/login"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        # placeholder until sessions and tokens land: nobody is authenticated
        response = JSONResponse({"error": "authentication required", "status": 401}, status_code=401)
        await response(scope, receive, send)
