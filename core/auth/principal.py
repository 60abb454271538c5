"""Who is asking: the principal the auth middleware puts in ``scope["user"]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as handlers see it (``request.user``)."""

    id: int
    username: str
    role: str
    agency: str
    via: Literal["session", "token"]

    # starlette's BaseUser protocol, so request.user reads naturally
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username


@dataclass(frozen=True)
class AuthState:
    """How the request authenticated (``scope["auth"]``); never leaves the server."""

    session_id: int | None = None
    csrf_token: str | None = None
    token_id: int | None = None
