"""Login, logout and "who am I" endpoints, for the browser and for scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from core.auth import audit, users
from core.auth.access import camera_agencies, current_principal, data_agencies
from core.auth.middleware import json_error, same_origin
from core.auth.principal import AuthState
from core.auth.ratelimit import LoginLimiter
from core.auth.sessions import COOKIE, clear_cookie, create_session, end_session, end_session_by_token, set_cookie
from core.models import User
from core.request_body import BodyError, limited_body, parse_json

LOGIN_PAGE = Path(__file__).resolve().parent.parent.parent / "web" / "static" / "login.html"
MAX_LOGIN_BODY = 16 * 1024


@dataclass
class Outcome:
    """The result of one login attempt."""

    user: User | None = None
    token: str | None = None
    csrf_token: str | None = None
    status: int = 200
    reason: str = ""
    retry_after: int | None = None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(value: object) -> str:
    """Only a local path: never another site, never a scheme-relative URL.

    Browsers drop tabs and newlines from URLs and read a backslash as ``/``,
    so ``/<tab>/host`` and ``/<backslash>host`` would leave the site: control
    characters and backslashes are refused outright.
    """
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or len(value) >= 2048:
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


class AccountRoutes:
    """The handlers, holding this app's login limiter."""

    def __init__(self, limiter_factory=LoginLimiter) -> None:
        self._limiter_factory = limiter_factory
        self._limiter: LoginLimiter | None = None

    @property
    def limiter(self) -> LoginLimiter:
        # built on first use, so that building the app (check-config) starts nothing
        if self._limiter is None:
            self._limiter = self._limiter_factory()
        return self._limiter

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login_form, methods=["POST"]),
            Route("/api/login", self.api_login, methods=["POST"]),
            Route("/logout", self.logout_form, methods=["POST"]),
            Route("/api/logout", self.api_logout, methods=["POST"]),
            Route("/api/me", self.me, methods=["GET"]),
        ]

    # --- the attempt, shared by the form and the JSON login -----------------

    async def attempt(self, request: Request, username: str, password: str) -> Outcome:
        if not same_origin(request.headers):
            return Outcome(status=403, reason="login from another site refused")
        address = _address(request)
        # counted before the slow password check: parallel guesses each take a place
        wait = self.limiter.begin(username, address)
        if wait is not None:
            return Outcome(status=429, reason=f"too many failed logins; try again in {wait} s", retry_after=wait)
        ok = False
        try:
            user, why = await users.authenticate(username, password)
            ok = user is not None
        finally:
            self.limiter.end(username, address, ok)
        if user is None:
            request.app.state.services.metrics.login_failures.inc()
            await audit.record(username or "?", "login.failed", username, f"address={address} reason={why}")
            if why == "disabled":
                return Outcome(status=403, reason="account disabled")
            return Outcome(status=401, reason="invalid username or password")
        old = request.cookies.get(COOKIE)
        if old:
            await end_session_by_token(old)
        token, session = await create_session(user)
        await audit.record(user.username, "login.ok", user.username, f"address={address}")
        return Outcome(user=user, token=token, csrf_token=session.csrf_token)

    def _secure(self, request: Request) -> bool:
        return request.app.state.services.deployment.server.secure_cookies

    # --- handlers --------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        """The login page.
        ---
        responses:
          200: {description: 'the page', content: {text/html: {schema: {type: string}}}}
        """
        return FileResponse(LOGIN_PAGE, media_type="text/html", headers={"Cache-Control": "no-store"})

    async def login_form(self, request: Request) -> Response:
        """Log in from the page (form), then go to next.
        ---
        requestBody: {content: {application/x-www-form-urlencoded: {schema: {type: object, properties: {username: {type: string}, password: {type: string}, next: {type: string}}}}}}
        responses:
          303: {description: 'to next when logged in, else back to the login page'}
        """
        try:
            async with request.form(max_files=0, max_fields=10) as form:
                username, password, nxt = form.get("username"), form.get("password"), form.get("next")
        except Exception:
            return json_error(400, "the login form could not be read")
        nxt = _safe_next(nxt)
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            return RedirectResponse("/login?" + urlencode({"error": "missing", "next": nxt}), status_code=303)
        outcome = await self.attempt(request, username.strip(), password)
        if outcome.user is None:
            if outcome.status == 429:
                return HTMLResponse(
                    f"<!doctype html><title>B-Connect</title><p>{outcome.reason}. <a href='/login'>Back</a></p>",
                    status_code=429,
                    headers={"Retry-After": str(outcome.retry_after)},
                )
            code = {401: "invalid", 403: "disabled"}.get(outcome.status, "refused")
            return RedirectResponse("/login?" + urlencode({"error": code, "next": nxt}), status_code=303)
        response = RedirectResponse(nxt, status_code=303)
        set_cookie(response, outcome.token or "", secure=self._secure(request))
        return response

    async def api_login(self, request: Request) -> Response:
        """Log in; sets the session cookie and returns the CSRF token.
        ---
        requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [username, password], properties: {username: {type: string, minLength: 1}, password: {type: string, minLength: 1}}}}}}
        responses:
          200: {description: 'the user and the CSRF token', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        raw = await limited_body(request, MAX_LOGIN_BODY)
        if raw is None:
            return json_error(413, f"request body too large (at most {MAX_LOGIN_BODY} bytes)")
        try:
            body = parse_json(raw)
        except BodyError as exc:
            return json_error(400, exc.reason)
        if not isinstance(body, dict):
            return json_error(400, "request body must be a JSON object with username and password")
        username, password = body.get("username"), body.get("password")
        missing = [k for k, v in (("username", username), ("password", password)) if not isinstance(v, str) or not v]
        if missing:
            return json_error(400, f"missing or empty: {', '.join(missing)}")
        outcome = await self.attempt(request, username.strip(), password)
        if outcome.user is None:
            headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
            return json_error(outcome.status, outcome.reason, headers)
        user = outcome.user
        response = JSONResponse(
            {"username": user.username, "role": user.role, "agency": user.agency, "csrf_token": outcome.csrf_token}
        )
        set_cookie(response, outcome.token or "", secure=self._secure(request))
        return response

    async def _logout(self, request: Request) -> bool:
        principal = current_principal(request)
        state = request.scope.get("auth")
        if not isinstance(state, AuthState) or state.session_id is None:
            return False
        await end_session(state.session_id)
        await audit.record(principal.username, "logout", principal.username, f"address={_address(request)}")
        return True

    async def logout_form(self, request: Request) -> Response:
        """Log out (the page).
        ---
        responses:
          303: {description: 'to the login page'}
        """
        await self._logout(request)
        response = RedirectResponse("/login", status_code=303)
        clear_cookie(response, secure=self._secure(request))
        return response

    async def api_logout(self, request: Request) -> Response:
        """End this browser session (a bearer token is revoked with bconnect users revoke).
        ---
        responses:
          200: {description: 'done', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        if not await self._logout(request):
            return json_error(400, "not a browser session: a bearer token is revoked with `bconnect users revoke`, not logged out")
        response = JSONResponse({"ok": True})
        clear_cookie(response, secure=self._secure(request))
        return response

    async def me(self, request: Request) -> Response:
        """Who is logged in, and what they may see.
        ---
        responses:
          200: {description: 'the user', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = current_principal(request)
        state = request.scope.get("auth")
        deployment = request.app.state.services.deployment
        cameras = camera_agencies(principal, deployment)
        data = data_agencies(principal, deployment)
        return JSONResponse(
            {
                "username": principal.username,
                "role": principal.role,
                "agency": principal.agency,
                "csrf_token": state.csrf_token if isinstance(state, AuthState) else None,
                "via": principal.via,
                "access": {
                    "cameras": sorted(cameras),
                    "data": sorted(data),
                },
                # display names (the deployment's [agencies]) of every agency this user meets
                "agency_names": {a: deployment.agency_name(a) for a in sorted(cameras | data | {principal.agency})},
                # the plugins' pages this user gets a link to (bconnect_register_pages)
                "pages": request.app.state.services.plugins.pages_for(principal),
            }
        )
