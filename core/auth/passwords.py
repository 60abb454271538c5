"""Password hashing (argon2id via argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
import functools
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


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password with the current parameters, to verify unknown users against."""
    return _hash(secrets.token_urlsafe(15))


def _verify_or_dummy(stored: str | None, password: str) -> bool:
    if stored is None:
        _verify(dummy_hash(), password)
        return False
    return _verify(stored, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password``; with no stored hash, do the same work and fail.

    An unknown user's password is verified against a throw-away hash, and a
    password over :data:`MAX_LENGTH` is verified (cut to the limit) and then
    refused, so that response times tell an attacker neither which usernames
    exist nor which lengths are checked.
    """
    ok = await asyncio.to_thread(_verify_or_dummy, stored, password[:MAX_LENGTH])
    return ok and len(password) <= MAX_LENGTH
