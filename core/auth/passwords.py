"""Password hashing (argon2id via argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 copes with more; a cap keeps a login request cheap


class PasswordPolicyError(ValueError):
    pass


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"password too short: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"password too long: at most {MAX_LENGTH} characters")


def generate_password() -> str:
    """A strong random password (20 URL-safe characters, 120 bits)."""
    return secrets.token_urlsafe(15)


def _hash(password: str) -> str:
    return PasswordHasher().hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password``; with no stored hash, spend the same time and fail.

    Hashing a throw-away value for unknown users keeps response times from
    telling an attacker which usernames exist.
    """
    if stored is None:
        await asyncio.to_thread(_hash, password[:MAX_LENGTH])
        return False
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)
