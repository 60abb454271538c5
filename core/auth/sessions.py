"""Server-side browser sessions: the cookie carries a secret, the table its hash."""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.responses import Response

from core.auth.tokens import hash_secret, new_secret, now
from core.models import Session, User

COOKIE = "bconnect_session"
LIFETIME = timedelta(hours=12)  # one control-room shift and a margin
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


async def create_session(user: User) -> tuple[str, Session]:
    """A new session for ``user``; returns the cookie value (shown once) and the row."""
    token = new_secret()
    t = now()
    row = await Session.create(
        token_hash=hash_secret(token),
        user=user,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=t + LIFETIME,
        last_seen_at=t,
    )
    return token, row


async def lookup_session(token: str) -> tuple[Session, User] | None:
    """The live session and its user, or ``None`` (unknown, expired, disabled)."""
    if not token or len(token) > 128:
        return None
    t = now()
    row = await Session.filter(token_hash=hash_secret(token), expires_at__gt=t).select_related("user").first()
    if row is None or row.user.disabled:
        return None
    if t - row.last_seen_at > TOUCH_EVERY:
        await Session.filter(id=row.id).update(last_seen_at=t)
    return row, row.user


async def end_session(session_id: int) -> None:
    await Session.filter(id=session_id).delete()


async def end_session_by_token(token: str) -> None:
    await Session.filter(token_hash=hash_secret(token)).delete()


async def purge_expired() -> int:
    return await Session.filter(expires_at__lte=now()).delete()


def set_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
