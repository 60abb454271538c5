"""User accounts: create, change password, disable, authenticate.

Every change is written to the audit log. Errors a person can fix are
:class:`UserError` with a one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from tortoise.exceptions import IntegrityError

from core.auth import audit
from core.auth.passwords import PasswordPolicyError, check_policy, generate_password, hash_password, verify_password
from core.auth.tokens import create_api_token, now
from core.config import AGENCY_ID_PATTERN, unknown_agency
from core.interfaces import ROLES
from core.models import ApiToken, Session, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
FIRST_ADMIN = "admin"


class UserError(Exception):
    """A request about users that cannot be done; the message says why."""


def check_username(username: str) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise UserError(
            f"invalid username {username!r}: 1-64 characters, lower-case letters, digits, '.', '_' or '-'"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")


def check_agency(agency: str, agencies: Collection[str] | None = None) -> None:
    """Refuse a malformed agency id, and one that ``agencies`` (the deployment's) does not hold."""
    if agencies is not None and agency not in agencies:
        raise UserError(unknown_agency(agency, agencies))
    if not re.fullmatch(AGENCY_ID_PATTERN, agency):
        raise UserError(f"invalid agency {agency!r}: 1-16 characters, lower-case letters, digits or '_'")


async def get_user(username: str) -> User:
    user = await User.get_or_none(username=username)
    if user is None:
        raise UserError(f"no user named {username!r}")
    return user


async def create_user(
    username: str, password: str, role: str, agency: str, *, actor: str, agencies: Collection[str] | None = None
) -> User:
    """``agencies``: the deployment's agency ids, when the caller has them (the CLI does)."""
    check_username(username)
    check_role(role)
    check_agency(agency, agencies)
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise UserError(str(exc)) from None
    if await User.exists(username=username):
        raise UserError(f"user {username!r} already exists")
    try:
        user = await User.create(
            username=username, password_hash=await hash_password(password), role=role, agency=agency
        )
    except IntegrityError:
        raise UserError(f"user {username!r} already exists") from None
    await audit.record(actor, "user.create", username, f"role={role} agency={agency}")
    return user


async def set_password(username: str, password: str, *, actor: str) -> User:
    user = await get_user(username)
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise UserError(str(exc)) from None
    user.password_hash = await hash_password(password)
    await user.save(update_fields=["password_hash"])
    # a new password ends every browser session of the old one
    await Session.filter(user_id=user.id).delete()
    await audit.record(actor, "user.passwd", username)
    return user


async def set_disabled(username: str, disabled: bool, *, actor: str) -> User:
    user = await get_user(username)
    user.disabled = disabled
    await user.save(update_fields=["disabled"])
    if disabled:
        await Session.filter(user_id=user.id).delete()
    await audit.record(actor, "user.disable" if disabled else "user.enable", username)
    return user


async def list_users() -> list[User]:
    return await User.all().order_by("username")


async def issue_token(username: str, name: str, *, actor: str) -> str:
    """A new bearer token for ``username``; returned once, stored hashed."""
    user = await get_user(username)
    name = name.strip()
    if not name or len(name) > 64:
        raise UserError("token name must be 1-64 characters")
    if user.disabled:
        raise UserError(f"user {username!r} is disabled")
    if await ApiToken.exists(user_id=user.id, name=name):
        raise UserError(f"user {username!r} already has a token named {name!r}")
    try:
        token, _ = await create_api_token(user, name)
    except IntegrityError:
        raise UserError(f"user {username!r} already has a token named {name!r}") from None
    await audit.record(actor, "token.create", username, f"name={name}")
    return token


async def revoke_token(username: str, name: str, *, actor: str) -> None:
    """End the bearer token ``name`` of ``username`` for good (disabling a user only pauses its tokens)."""
    user = await get_user(username)
    if not await ApiToken.filter(user_id=user.id, name=name.strip()).delete():
        raise UserError(f"user {username!r} has no token named {name.strip()!r}")
    await audit.record(actor, "token.revoke", username, f"name={name.strip()}")


async def authenticate(username: str, password: str) -> tuple[User | None, str]:
    """``(user, "ok")`` or ``(None, reason)``; reasons: unknown, password, disabled.

    The reason is for the audit log; the client learns only "disabled" and
    only after giving the right password.
    """
    if not USERNAME_RE.fullmatch(username):
        # no such account can exist, and the rule is public: no timing to hide
        return None, "invalid username"
    user = await User.get_or_none(username=username)
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None:
        return None, "unknown user"
    if not ok:
        return None, "wrong password"
    if user.disabled:
        return None, "disabled"
    user.last_login_at = now()
    await user.save(update_fields=["last_login_at"])
    return user, "ok"


async def ensure_first_admin(agency: str) -> str | None:
    """On an empty user table, create ``admin`` of ``agency`` and return its password once.

    An admin sees every agency, so which one it belongs to only labels it.
    """
    if await User.exists():
        return None
    password = generate_password()
    try:
        await create_user(FIRST_ADMIN, password, "admin", agency, actor="system")
    except UserError:
        return None  # someone else made it between our check and our insert
    return password
