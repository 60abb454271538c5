"""Opaque secrets (session cookies, bearer tokens): made here, stored only hashed.

The secrets are 256 random bits, so a fast hash (SHA-256) is enough to keep a
stolen table from being replayed; passwords, being guessable, use argon2.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from core.models import ApiToken, User

TOKEN_PREFIX = "bct_"
# a client's last_used_at is written at most this often, not on every request
TOUCH_EVERY = timedelta(minutes=1)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc)


async def create_api_token(user: User, name: str) -> tuple[str, ApiToken]:
    """A new bearer token for ``user``; the plain token is returned once."""
    token = TOKEN_PREFIX + new_secret()
    row = await ApiToken.create(user=user, name=name, token_hash=hash_secret(token))
    return token, row


async def lookup_api_token(token: str) -> tuple[ApiToken, User] | None:
    """The token and its user, or ``None`` if unknown or the user is disabled."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = await ApiToken.filter(token_hash=hash_secret(token)).select_related("user").first()
    if row is None or row.user.disabled:
        return None
    t = now()
    if row.last_used_at is None or t - row.last_used_at > TOUCH_EVERY:
        await ApiToken.filter(id=row.id).update(last_used_at=t)
    return row, row.user
