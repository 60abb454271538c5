"""Accounts as a core default plugin: login routes, first admin, session upkeep."""

from __future__ import annotations

import asyncio

from core.auth.passwords import dummy_hash
from core.auth.routes import AccountRoutes
from core.auth.sessions import purge_expired
from core.auth.users import FIRST_ADMIN, ensure_first_admin
from core.hookspecs import hookimpl
from core.interfaces import Job


def login_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/login"


class AccountsPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        self.routes = AccountRoutes()

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.routes.routes():
            register(route)

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="purge_expired_sessions", func=purge_expired, seconds=3600))

    @hookimpl
    def bconnect_startup(self, services):
        return self._startup(services)

    async def _startup(self, services) -> None:
        # the first agency the deployment declares; "admin" where it declares none
        password = await ensure_first_admin(next(iter(services.deployment.agencies), "admin"))
        await asyncio.to_thread(dummy_hash)  # made now, so the first unknown user costs no more than the next
        server = services.deployment.server
        # stdout, not the log: the person starting the server reads this once
        print(f"B-Connect is running: log in at {login_url(server.host, server.port)}", flush=True)
        if password is not None:
            print(
                f"first admin: {FIRST_ADMIN} / {password} (change it with: bconnect users passwd {FIRST_ADMIN})",
                flush=True,
            )
