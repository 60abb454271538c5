"""Accounts and access: login, sessions, CSRF, bearer tokens, rate limits, first admin.

The real app (real SQLite database in tmp, lifespan run) is driven in-process
through httpx; the first-admin test runs the real ``bconnect serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import statistics
import time
import urllib.error
import urllib.request
from datetime import timedelta

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.auth import access, ratelimit, routes, users
from core.auth.ratelimit import LoginLimiter
from core.auth.principal import Principal
from core.testing.app import add_user, bearer_headers, first_admin, login, running_app, session_headers
from core.auth.tokens import now
from core.config import load_file
from core.errors import ApiError
from core.hookspecs import hookimpl
from core.models import AuditEntry, Session
from core.plugin_host import load_plugins

PASSWORD = "correct-horse-1"


class EchoPlugin:
    """Test-only plugin: a state-changing route that echoes the form it got."""

    @hookimpl
    def bconnect_register_routes(self, register):
        async def echo(request: Request):
            form = await request.form()
            return JSONResponse({"user": request.user.username, "form": {k: str(v) for k, v in form.items()}})

        register(Route("/api/test/echo", echo, methods=["POST"]))


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment().path)


@pytest.fixture
def echo_host(cfg):
    host = load_plugins(cfg)
    host.pm.register(EchoPlugin(), name="test_echo")
    return host


# --- login ---------------------------------------------------------------------


async def test_json_login_sets_a_session_cookie_and_me_answers(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD, role="operator", agency="dishub")
        r = await client.post("/api/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["username"] == "ana" and body["role"] == "operator" and body["agency"] == "dishub"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("bconnect_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # the test deployment sets secure_cookies = false

        me = (await client.get("/api/me")).json()
        assert me["username"] == "ana" and me["via"] == "session"
        assert me["csrf_token"] == body["csrf_token"]
        assert me["access"]["cameras"] == ["dishub", "pemkot"]  # from [access.dishub] in the test deployment
        assert me["agency_names"] == {"dishub": "Dishub", "pemkot": "Pemkot"}  # the UI's labels, from [agencies]

        row = await Session.get(user__username="ana")
        assert row.token_hash != cookie.split(";")[0].split("=", 1)[1]  # only the hash is stored
        actions = [e.action for e in await AuditEntry.all()]
        assert "login.ok" in actions


async def test_cookie_is_secure_unless_the_deployment_says_otherwise(make_deployment):
    d = make_deployment()
    d.path.write_text(d.path.read_text().replace("secure_cookies = false", "secure_cookies = true"))
    async with running_app(load_file(d.path), base_url="https://testserver") as (app, client):
        await add_user("ana", PASSWORD)
        r = await client.post("/api/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 200
        assert "Secure" in r.headers["set-cookie"]


async def test_wrong_credentials_are_refused_and_audited_without_the_password(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        r = await client.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
        assert r.status_code == 401 and r.json()["error"] == "invalid username or password"
        assert "set-cookie" not in r.headers
        r = await client.post("/api/login", json={"username": "nobody", "password": "wrong-password-1"})
        assert r.status_code == 401
        failed = await AuditEntry.filter(action="login.failed").order_by("id")
        assert [(e.target, "wrong password" in e.detail) for e in failed] == [("ana", True), ("nobody", False)]
        assert all("wrong-password-1" not in e.detail for e in failed)
        assert (await client.get("/api/me")).status_code == 401


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"username": "ana"}', "password"),
        (b'{"username": 5, "password": "x"}', "username"),
    ],
)
async def test_malformed_json_login_is_a_400_with_a_reason(cfg, body, reason):
    async with running_app(cfg) as (app, client):
        r = await client.post("/api/login", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert reason in r.json()["error"]


async def test_oversized_json_login_is_a_413_even_without_a_content_length(cfg):
    async def chunked():  # a chunked body announces no length
        for _ in range(64):
            yield b" " * 1024

    async with running_app(cfg) as (app, client):
        r = await client.post("/api/login", content=chunked(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in r.json()["error"]
        r = await client.post("/api/login", content=b" " * 20_000, headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_form_login_redirects_to_a_local_next_only(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        page = await client.get("/login")
        assert page.status_code == 200 and 'action="/login"' in page.text

        r = await client.post("/login", data={"username": "ana", "password": "nope-nope-1", "next": "/api/me"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login?error=invalid")

        r = await client.post("/login", data={"username": "ana", "password": PASSWORD, "next": "//evil.example/x"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        r = await client.post("/login", data={"username": "ana", "password": PASSWORD, "next": "/api/me"})
        assert r.status_code == 303 and r.headers["location"] == "/api/me"
        assert "HttpOnly" in r.headers["set-cookie"]
        assert (await client.get("/api/me")).json()["username"] == "ana"


# each would send the browser to another origin once it has dropped tabs and newlines and read "\\" as "/"
HOSTILE_NEXT = [
    "/\t/evil.example:8081/page",
    "/\n/evil.example/page",
    "/\r\n/evil.example/page",
    "//evil.example/page",
    "/\\evil.example/page",
    "/\\/evil.example/page",
    "https://evil.example/page",
    "https:evil.example/page",
    "javascript:alert(1)",
    " /evil",
]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_the_next_page_after_login_is_a_local_path_only(value):
    assert routes._safe_next(value) == "/"


def test_local_next_pages_are_kept():
    for value in ("/", "/metrics", "/api/me?x=1&y=%2F%2Fz", "/cameras/cam-1#tile"):
        assert routes._safe_next(value) == value


async def test_login_from_another_site_is_refused(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        r = await client.post(
            "/api/login", json={"username": "ana", "password": PASSWORD}, headers={"Origin": "https://evil.example"}
        )
        assert r.status_code == 403


async def test_anonymous_browser_pages_redirect_and_api_calls_get_401(cfg):
    async with running_app(cfg) as (app, client):
        r = await client.get("/", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
        r = await client.get("/api/me", headers={"accept": "text/html"})
        assert r.status_code == 401 and r.json() == {"error": "authentication required", "status": 401}
        assert (await client.get("/api/health")).status_code == 200
        assert (await client.get("/static/login.js")).status_code == 200


# --- rate limits -----------------------------------------------------------------


async def test_failed_logins_per_username_are_rate_limited(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        for _ in range(5):
            r = await client.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
            assert r.status_code == 401
        # now even the right password waits
        r = await client.post("/api/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "too many failed logins" in r.json()["error"]
        r = await client.post("/login", data={"username": "ana", "password": PASSWORD})
        assert r.status_code == 429 and "retry-after" in r.headers
        # another user from the same address is not locked out by ana's failures
        await add_user("bob", PASSWORD)
        assert (await client.post("/api/login", json={"username": "bob", "password": PASSWORD})).status_code == 200
    # limits belong to one app: another app on the same database starts with a clean slate
    async with running_app(cfg) as (app, client):
        assert (await client.post("/api/login", json={"username": "ana", "password": PASSWORD})).status_code == 200


async def test_failed_logins_per_address_are_rate_limited(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        for i in range(30):
            # names no account can have, so the test spends no time hashing
            r = await client.post("/api/login", json={"username": f"Guess {i}", "password": "wrong-password-1"})
            assert r.status_code == 401
        r = await client.post("/api/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_parallel_wrong_passwords_are_counted_before_they_are_checked(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        guesses = [client.post("/api/login", json={"username": "ana", "password": f"guess-{i:04}"}) for i in range(60)]
        codes = sorted(r.status_code for r in await asyncio.gather(*guesses))
        # five places per username in the window: the other 55 wait, though none had failed when they came
        assert codes.count(401) == 5 and codes.count(429) == 55, codes
        assert await AuditEntry.filter(action="login.failed").count() == 5


@contextlib.asynccontextmanager
async def _client_from(app, address: str):
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_locked_username_still_admits_its_password_from_an_address_without_failures(cfg):
    async with running_app(cfg) as (app, attacker):
        await add_user("ana", PASSWORD)
        for _ in range(5):
            r = await attacker.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
            assert r.status_code == 401
        assert (await attacker.post("/api/login", json={"username": "ana", "password": PASSWORD})).status_code == 429
        async with _client_from(app, "10.20.0.7") as ana:
            r = await ana.post("/api/login", json={"username": "ana", "password": PASSWORD})
            assert r.status_code == 200 and r.json()["username"] == "ana"
        # a clean address gets one guess while the username is locked, then waits like the rest
        async with _client_from(app, "10.20.0.8") as other:
            await other.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
            for _ in range(4):  # ana's success cleared the username: these five lock it again
                await attacker.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
            r = await other.post("/api/login", json={"username": "ana", "password": PASSWORD})
            assert r.status_code == 429
        async with _client_from(app, "10.20.0.9") as third:
            r = await third.post("/api/login", json={"username": "ana", "password": "wrong-password-1"})
            assert r.status_code == 401
            assert (await third.post("/api/login", json={"username": "ana", "password": PASSWORD})).status_code == 429


def test_login_limiter_window_attempts_under_way_and_memory_bound(monkeypatch):
    now = [1000.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for _ in range(5):
        assert limiter.begin("ana", "10.0.0.1") is None  # five attempts under way: the username is spent
    assert limiter.begin("ana", "10.0.0.1") == 1  # nothing has failed yet: try again in a second
    for _ in range(5):
        now[0] += 1
        limiter.end("ana", "10.0.0.1", ok=False)
    assert limiter.begin("Ana", "10.0.0.1") == 56  # the oldest failure leaves the window in 56 s
    assert limiter.begin("ana", "10.0.0.2") is None  # an address with no failures may try
    limiter.end("ana", "10.0.0.2", ok=True)  # and its success clears the username
    assert limiter.begin("ana", "10.0.0.1") is None
    limiter.end("ana", "10.0.0.1", ok=False)
    now[0] += 60
    assert limiter.begin("ana", "10.0.0.1") is None  # every failure has left the window
    limiter.end("ana", "10.0.0.1", ok=True)

    monkeypatch.setattr(ratelimit, "MAX_KEYS", 10)
    for i in range(50):
        assert limiter.begin(f"user{i}", f"10.1.0.{i}") is None
        limiter.end(f"user{i}", f"10.1.0.{i}", ok=False)
    assert len(limiter._windows) <= 10


async def test_unknown_and_known_usernames_take_the_same_time(cfg):
    """Timed on ``users.authenticate`` itself (the limiter would answer 429 long before enough samples)."""

    async def timed(username: str, password: str) -> float:
        start = time.perf_counter()
        user, _ = await users.authenticate(username, password)
        assert user is None
        return time.perf_counter() - start

    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        for password in ("wrong-password-1", "x" * 5000):  # a normal one, and one over the length limit
            pairs = [(await timed("ana", password), await timed("nobody", password)) for _ in range(7)]  # interleaved
            known, unknown = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
            slow, fast = max(known, unknown), min(known, unknown)
            # the same argon2 work either way; before, a long password took 3-13 ms for ana and 100+ ms for nobody
            assert slow - fast < 0.5 * slow + 0.02, (len(password), known, unknown)
            assert fast > 0.01, (len(password), known, unknown)  # a hash was really verified


# --- CSRF and bearer tokens -----------------------------------------------------


async def test_session_requests_that_change_state_need_the_csrf_token(cfg, echo_host):
    async with running_app(cfg, host=echo_host) as (app, client):
        await add_user("ana", PASSWORD)
        headers = await login(client, "ana", PASSWORD)

        r = await client.post("/api/test/echo", data={"a": "1"})
        assert r.status_code == 403 and "CSRF token missing" in r.json()["error"]
        r = await client.post("/api/test/echo", data={"a": "1"}, headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403 and "does not match" in r.json()["error"]
        r = await client.post("/api/test/echo", data={"a": "1", "csrf_token": "forged"})
        assert r.status_code == 403

        r = await client.post("/api/test/echo", data={"a": "1"}, headers=headers)
        assert r.status_code == 200 and r.json() == {"user": "ana", "form": {"a": "1"}}
        # the form field works too, and the app still reads the whole body
        token = headers["X-CSRF-Token"]
        r = await client.post("/api/test/echo", data={"a": "2", "csrf_token": token})
        assert r.status_code == 200 and r.json()["form"] == {"a": "2", "csrf_token": token}
        r = await client.post("/api/test/echo", data={"csrf_token": token}, files={"f": ("x.txt", b"hello")})
        assert r.status_code == 200 and r.json()["form"]["csrf_token"] == token

        r = await client.post("/logout", data={"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await client.get("/api/me")).status_code == 401
        assert await AuditEntry.filter(action="logout", actor="ana").exists()


async def test_bearer_tokens_work_and_are_csrf_exempt(cfg, echo_host):
    async with running_app(cfg, host=echo_host) as (app, client):
        await add_user("ana", PASSWORD, role="viewer", agency="polri")
        token = await users.issue_token("ana", "cctv-wall", actor="test")
        assert token.startswith("bct_")
        auth = {"Authorization": f"Bearer {token}"}

        me = (await client.get("/api/me", headers=auth)).json()
        assert me["username"] == "ana" and me["via"] == "token" and me["csrf_token"] is None
        r = await client.post("/api/test/echo", data={"a": "1"}, headers=auth)
        assert r.status_code == 200

        r = await client.get("/api/me", headers={"Authorization": "Bearer bct_not-a-real-token"})
        assert r.status_code == 401 and r.json()["error"] == "invalid or revoked token"
        r = await client.get("/api/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        assert r.status_code == 401 and "Bearer" in r.json()["error"]
        rows = sqlite3.connect(cfg.deployment.data_path() / "bconnect.db").execute(
            "SELECT token_hash FROM api_tokens"
        ).fetchall()
        assert rows and token not in {r[0] for r in rows}


# --- disabled users, passwords, sessions ------------------------------------------


async def test_a_disabled_user_is_locked_out_at_once(cfg):
    async with running_app(cfg) as (app, client):
        user = await add_user("ana", PASSWORD)
        session = await session_headers(user)
        bearer = await bearer_headers(user)
        assert (await client.get("/api/me", headers=session)).status_code == 200
        assert (await client.get("/api/me", headers=bearer)).status_code == 200

        await users.set_disabled("ana", True, actor="test")
        assert (await client.get("/api/me", headers=session)).status_code == 401
        assert (await client.get("/api/me", headers=bearer)).status_code == 401
        r = await client.post("/api/login", json={"username": "ana", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["error"] == "account disabled"


async def test_expired_sessions_and_changed_passwords_end_sessions(cfg):
    async with running_app(cfg) as (app, client):
        user = await add_user("ana", PASSWORD)
        old = await session_headers(user)
        await Session.filter(user_id=user.id).update(expires_at=now() - timedelta(seconds=1))
        r = await client.get("/api/me", headers=old)
        assert r.status_code == 401 and "expired" in r.json()["error"]

        fresh = await session_headers(user)
        await users.set_password("ana", "another-pass-2", actor="test")
        assert (await client.get("/api/me", headers=fresh)).status_code == 401
        assert (await client.post("/api/login", json={"username": "ana", "password": "another-pass-2"})).is_success


async def test_passwords_are_stored_as_argon2_hashes(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        db = cfg.deployment.data_path() / "bconnect.db"
        (stored,) = sqlite3.connect(db).execute("SELECT password_hash FROM users WHERE username='ana'").fetchone()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_the_audit_log_cannot_be_changed(cfg):
    async with running_app(cfg) as (app, client):
        await add_user("ana", PASSWORD)
        entry = await AuditEntry.get(action="user.create", target="ana")
        entry.detail = "rewritten"
        with pytest.raises(PermissionError):
            await entry.save()
        with pytest.raises(PermissionError):
            await entry.delete()
        assert (await AuditEntry.get(id=entry.id)).detail != "rewritten"


# --- access helpers ---------------------------------------------------------------


def _p(role: str, agency: str) -> Principal:
    return Principal(1, "u", role, agency, "session")


def test_agency_access_follows_the_deployment(cfg):
    d = cfg.deployment  # [access.dishub] cameras = dishub, pemkot; data = dishub. No [access.kejaksaan].
    assert access.camera_agencies(_p("operator", "dishub"), d) == {"dishub", "pemkot"}
    assert access.data_agencies(_p("operator", "dishub"), d) == {"dishub"}
    assert access.camera_agencies(_p("prosecutor", "kejaksaan"), d) == {"kejaksaan"}  # own agency always
    assert access.data_agencies(_p("admin", "kejaksaan"), d) == {"dishub", "polri", "kejaksaan", "pemkot"}
    assert access.can_see_camera(_p("officer", "polri"), d, "dishub")
    assert not access.can_see_data(_p("officer", "polri"), d, "dishub")


def test_role_checks_answer_403_with_a_reason():
    scope = {"type": "http", "user": _p("viewer", "dishub")}
    with pytest.raises(ApiError) as exc:
        access.require_role(Request(scope), "operator")
    assert exc.value.status_code == 403 and "you are viewer" in exc.value.detail
    assert access.require_role(Request({"type": "http", "user": _p("admin", "pemkot")}), "operator").role == "admin"
    with pytest.raises(ApiError) as exc:
        access.current_principal(Request({"type": "http"}))
    assert exc.value.status_code == 401
    with pytest.raises(ValueError):
        access.requires_role("emperor")


# --- first start ----------------------------------------------------------------------


def test_first_start_prints_the_admin_password_once(make_deployment, start_server):
    d = make_deployment()
    server = start_server(d)
    log = server.log()
    assert f"B-Connect is running: log in at http://127.0.0.1:{d.port}/login" in log
    creds = first_admin(log)
    assert creds is not None and creds[0] == "admin"
    assert "(change it with: bconnect users passwd admin)" in log
    req = urllib.request.Request(
        server.url + "/api/login",
        data=json.dumps({"username": creds[0], "password": creds[1]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        assert json.load(r)["role"] == "admin"
    server.stop()
    assert log.count(creds[1]) == 1  # printed once, never logged

    again = start_server(d)
    log2 = again.log()
    assert "B-Connect is running" in log2
    assert first_admin(log2) is None and creds[1] not in log2


def _post_login(url: str, username: str, password: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(
        url + "/api/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _audited_addresses(d, action: str) -> list[str]:
    rows = sqlite3.connect(d.data_dir / "bconnect.db").execute(
        "SELECT detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )
    return [detail.split("address=", 1)[1].split()[0] for (detail,) in rows]


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(make_deployment, start_server):
    """Through real uvicorn, which by default believes the header from 127.0.0.1."""
    d = make_deployment()
    server = start_server(d)
    username, password = first_admin(server.log())
    forged = {"X-Forwarded-For": "203.0.113.9"}
    for i in range(30):  # names no account can have: no hashing
        assert _post_login(server.url, f"Guess {i}", "wrong-password-1", forged) == 401
    # 127.0.0.1 is locked out, whatever address it claims to speak for
    assert _post_login(server.url, username, password, forged) == 429
    assert _post_login(server.url, username, password, {"X-Forwarded-For": "198.51.100.4"}) == 429
    assert set(_audited_addresses(d, "login.failed")) == {"127.0.0.1"}
    server.stop()

    trusting = 'secure_cookies = false\ntrusted_proxies = ["127.0.0.1"]'
    d.path.write_text(d.path.read_text().replace("secure_cookies = false", trusting))
    server = start_server(d)
    assert _post_login(server.url, username, password, forged) == 200
    assert _audited_addresses(d, "login.ok")[-1] == "203.0.113.9"


# --- the login page in a real browser ---------------------------------------------------


@pytest.mark.browser
async def test_login_page_in_chromium_with_secure_cookies(make_deployment, start_server):
    """As shipped (secure_cookies = true) on http://127.0.0.1: the browser must still keep the cookie."""
    from playwright.async_api import async_playwright
    from support.browser import launch_chromium

    d = make_deployment()
    d.path.write_text(d.path.read_text().replace("secure_cookies = false", "secure_cookies = true"))
    server = start_server(d)
    username, password = first_admin(server.log())
    async with async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page()
            await page.goto(server.url + "/api/me")  # an API answers 401, it does not redirect
            await page.goto(server.url + "/metrics")
            assert page.url == server.url + "/login?next=/metrics"

            await page.fill("#username", username)
            await page.fill("#password", "not-the-password")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#error:not([hidden])")
            assert "invalid username or password" in (await page.text_content("#error")).lower()

            await page.fill("#password", password)
            await page.click("button[type=submit]")
            await page.wait_for_url(server.url + "/metrics")
            assert "bconnect_up" in await page.content()
            cookie = next(c for c in await page.context.cookies() if c["name"] == "bconnect_session")
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
            assert await page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
        finally:
            await browser.close()


@pytest.mark.browser
async def test_login_never_sends_the_browser_to_another_origin(make_deployment, start_server):
    """Real Chromium: hostile ``next`` values become "/", local ones are kept, and the login lands on this site."""
    from urllib.parse import quote

    from playwright.async_api import async_playwright
    from support.browser import launch_chromium

    d = make_deployment()
    server = start_server(d)
    username, password = first_admin(server.log())
    other = f"127.0.0.2:{d.port}"  # another origin that needs no DNS
    async with async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page()
            for value in [*HOSTILE_NEXT, f"/\t/{other}/page", f"/%09/{other}/page"]:
                await page.goto(server.url + "/login?next=" + quote(value, safe="/%"))
                assert await page.input_value("#next") == "/", value
            for value in ("/metrics", "/api/me?x=1", "/#grid"):
                await page.goto(server.url + "/login?next=" + quote(value, safe="/"))
                assert await page.input_value("#next") == value, value

            # the probe's URL: a tab, percent-encoded, before a second slash
            await page.goto(f"{server.url}/login?next=/%09/{other}/page")
            await page.fill("#username", username)
            await page.fill("#password", password)
            await page.click("button[type=submit]")
            await page.wait_for_url(lambda url: "/login" not in url, timeout=15_000)
            assert page.url.startswith(server.url + "/"), page.url  # the grid, on this origin
        finally:
            await browser.close()
