"""``bconnect users add|list|passwd|disable|enable|token|revoke``: accounts from the shell.

Each command opens the deployment's database (migrating it if needed), does
one thing and closes it. Mistakes print one line to stderr and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from core.interfaces import ROLES

ACTOR = "cli"
DEFAULT_CONFIG = "plugins.toml"  # as for ``bconnect serve``


class _Fail(Exception):
    pass


def _read_password(args: argparse.Namespace) -> str | None:
    """The password from stdin with ``--password-stdin``, else ``None`` (generate one)."""
    if not args.password_stdin:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != first:
            raise _Fail("passwords differ")
        return first
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise _Fail("no password on stdin")
    return password


def _run(args: argparse.Namespace, load: Callable[..., Any], work: Callable[[], Awaitable[int]]) -> int:
    from core.storage import CORE_MODELS, StorageError, close_database, open_database
    from core.auth.users import UserError

    cfg = load(args.config, args.data_dir)
    url = cfg.deployment.database_url()

    async def main() -> int:
        try:
            await open_database(url, [CORE_MODELS])
            return await work()
        finally:
            # also after a failed open: a half-open connection's thread would keep the process alive
            await close_database()

    try:
        return asyncio.run(main())
    except (UserError, StorageError, _Fail) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_add(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.auth import users
    from core.auth.passwords import generate_password

    # check what can be checked before touching the database
    try:
        users.check_username(args.username)
        users.check_role(args.role)
        agencies = set(load(args.config, args.data_dir).deployment.agencies)
        users.check_agency(args.agency, agencies)
        given = _read_password(args)
    except (users.UserError, _Fail) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    password = given if given is not None else generate_password()

    async def work() -> int:
        user = await users.create_user(args.username, password, args.role, args.agency, actor=ACTOR, agencies=agencies)
        print(f"created user {user.username} (role {user.role}, agency {user.agency})")
        if given is None:
            print(f"password: {password}")
        return 0

    return _run(args, load, work)


def cmd_list(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.auth import users

    async def work() -> int:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "agency": u.agency,
                "disabled": u.disabled,
                "created_at": u.created_at.isoformat() if u.created_at else None,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in await users.list_users()
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print("no users")
            return 0
        header = ("USERNAME", "ROLE", "AGENCY", "STATUS", "LAST LOGIN")
        table = [header] + [
            (
                r["username"],
                r["role"],
                r["agency"],
                "disabled" if r["disabled"] else "active",
                (r["last_login_at"] or "never")[:19].replace("T", " "),
            )
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        return 0

    return _run(args, load, work)


def cmd_passwd(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.auth import users
    from core.auth.passwords import generate_password

    try:
        given = _read_password(args)
    except _Fail as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    password = given if given is not None else generate_password()

    async def work() -> int:
        await users.set_password(args.username, password, actor=ACTOR)
        print(f"password changed for {args.username}; their browser sessions have ended")
        if given is None:
            print(f"password: {password}")
        return 0

    return _run(args, load, work)


def _set_disabled(disabled: bool) -> Callable[[argparse.Namespace, Callable[..., Any]], int]:
    def cmd(args: argparse.Namespace, load: Callable[..., Any]) -> int:
        from core.auth import users

        async def work() -> int:
            await users.set_disabled(args.username, disabled, actor=ACTOR)
            print(f"{'disabled' if disabled else 'enabled'} user {args.username}")
            return 0

        return _run(args, load, work)

    return cmd


def cmd_token(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.auth import users

    async def work() -> int:
        token = await users.issue_token(args.username, args.name, actor=ACTOR)
        print(token)
        print(f"token {args.name!r} for {args.username}: shown once, store it now", file=sys.stderr)
        return 0

    return _run(args, load, work)


def cmd_revoke(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.auth import users

    async def work() -> int:
        await users.revoke_token(args.username, args.name, actor=ACTOR)
        print(f"token {args.name!r} of {args.username} revoked")
        return 0

    return _run(args, load, work)


def add_parser(sub, load) -> None:
    p = sub.add_parser("users", help="manage user accounts")
    users_sub = p.add_subparsers(dest="users_command", required=True, metavar="COMMAND")

    def command(name: str, help: str, func: Callable[[argparse.Namespace, Callable[..., Any]], int]):
        c = users_sub.add_parser(name, help=help)
        c.add_argument("--config", default=DEFAULT_CONFIG, help="deployment file (default: %(default)s)")
        c.add_argument("--data-dir", help="data folder (default: the file's, or $BCONNECT_DATA_DIR)")
        c.set_defaults(func=lambda args: func(args, load))
        return c

    c = command("add", "create a user", cmd_add)
    c.add_argument("username")
    c.add_argument("--role", required=True, help=f"one of: {', '.join(ROLES)}")
    c.add_argument("--agency", required=True, help="an agency the deployment declares in [agencies]")
    c.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else one is made)")

    c = command("list", "list users", cmd_list)
    c.add_argument("--json", action="store_true", help="print JSON")

    c = command("passwd", "set a user's password", cmd_passwd)
    c.add_argument("username")
    c.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else one is made)")

    c = command("disable", "lock a user out (sessions and tokens stop working)", _set_disabled(True))
    c.add_argument("username")

    c = command("enable", "let a disabled user log in again", _set_disabled(False))
    c.add_argument("username")

    c = command("token", "make a bearer token for an API client (printed once)", cmd_token)
    c.add_argument("username")
    c.add_argument("--name", required=True, help="what the token is for, e.g. the client's name")

    c = command("revoke", "end a bearer token for good", cmd_revoke)
    c.add_argument("username")
    c.add_argument("--name", required=True, help="the token's name, as given to `token`")
