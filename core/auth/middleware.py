"""Default-deny authentication: every path needs a user unless the core made it public.

A request authenticates with a bearer token (``Authorization: Bearer ...``,
for API clients) or a browser session cookie. The principal goes into
``scope["user"]``, how it authenticated into ``scope["auth"]``. A disabled
user's sessions and tokens stop working on the next request. Requests that
change state with a session must carry the session's CSRF token; bearer
requests need none (a browser never attaches them on its own).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.auth import csrf
from core.auth.principal import AuthState, Principal
from core.auth.sessions import COOKIE, lookup_session
from core.auth.tokens import lookup_api_token

# Only the core declares public paths; plugins cannot add to these. Methods
# count too: a plugin's PUT /login is not public because GET /login is.
READ = frozenset({"GET", "HEAD"})
PUBLIC_EXACT: dict[str, frozenset[str]] = {
    "/api/health": READ,
    "/login": READ | {"POST"},
    "/api/login": frozenset({"POST"}),
}
PUBLIC_PREFIXES: dict[str, frozenset[str]] = {"/static/": READ}
WS_POLICY_VIOLATION = 1008


def is_public(method: str, path: str) -> bool:
    """Whether an HTTP request may go through without a user (websockets never may)."""
    if method in PUBLIC_EXACT.get(path, ()):
        return True
    return any(path.startswith(prefix) and method in methods for prefix, methods in PUBLIC_PREFIXES.items())


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def json_error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers)


async def authenticate(scope: Scope) -> tuple[Principal, AuthState] | None | str:
    """The principal, ``None`` (no credentials) or a reason the credentials failed."""
    conn = HTTPConnection(scope)
    authorization = conn.headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return "unsupported Authorization header: use 'Bearer <token>'"
        found = await lookup_api_token(value.strip())
        if found is None:
            return "invalid or revoked token"
        token, user = found
        return Principal(user.id, user.username, user.role, user.agency, "token"), AuthState(token_id=token.id)
    cookie = conn.cookies.get(COOKIE)
    if cookie:
        found_session = await lookup_session(cookie)
        if found_session is None:
            return "session expired; log in again"
        session, user = found_session
        principal = Principal(user.id, user.username, user.role, user.agency, "session")
        return principal, AuthState(session_id=session.id, csrf_token=session.csrf_token)
    return None


def same_origin(headers: Headers) -> bool:
    """No ``Origin`` (not a cross-site browser request) or one naming this host."""
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


class AuthMiddleware:
    def __init__(self, app: ASGIApp, services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (
            scope["type"] == "http" and is_public(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        result = await authenticate(scope)
        if not isinstance(result, tuple):
            await self._refuse(scope, receive, send, result or "authentication required")
            return
        principal, state = result
        scope["user"] = principal
        scope["auth"] = state
        if principal.via == "session":
            if scope["type"] == "websocket" and not same_origin(Headers(scope=scope)):
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": "cross-origin"})
                return
            if scope["type"] == "http" and scope["method"] in csrf.UNSAFE:
                try:
                    receive = await csrf.check(scope, receive, state.csrf_token or "")
                except csrf.CsrfRefused as exc:
                    await json_error(403, str(exc))(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": "authentication required"})
            return
        path = scope["path"]
        accept = Headers(scope=scope).get("accept", "")
        if scope["method"] in ("GET", "HEAD") and not is_api(path) and "text/html" in accept:
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            response: Response = RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)
        else:
            response = json_error(401, reason, {"WWW-Authenticate": 'Bearer realm="bconnect"'})
        await response(scope, receive, send)
