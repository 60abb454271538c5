"""``bconnect users add|list|passwd|disable`` (filled in by the accounts work)."""

from __future__ import annotations


def add_parser(sub, load) -> None:
    p = sub.add_parser("users", help="manage user accounts")
    p.set_defaults(func=lambda args: (print("users: not yet available"), 1)[1])
