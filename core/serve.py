"""Run the app under uvicorn, with one-line reasons for start-up failures.

Config mistakes surface before anything listens (``ConfigErrors``, printed by
the CLI); a port in use before the app is started; a database that is locked,
corrupt or unreachable when the app starts, as ``error: <reason>`` instead of
uvicorn's traceback of the failed lifespan.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.app import create_app
from core.config import LoadedConfig
from core.logs import setup_logging
from core.loop_priority import raise_loop_priority
from core.storage import StorageError

log = logging.getLogger("bconnect.serve")


@dataclass
class StartupGuard:
    """Wraps the app: a failed start becomes one line instead of a traceback."""

    app: ASGIApp
    reason: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {"type": message["type"], "message": ""}  # the traceback text
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except StorageError as exc:
            self.reason = str(exc)
        except Exception as exc:
            log.error("start-up failed", exc_info=exc)
            self.reason = f"start-up failed: {type(exc).__name__}: {exc}"


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting, so that a port in use is reported in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(cfg: LoadedConfig) -> int:
    """Serve on the deployment's address (the CLI has applied its flags to it)."""
    setup_logging()
    host, port = cfg.deployment.server.host, cfg.deployment.server.port
    guard = StartupGuard(create_app(cfg))
    try:
        sock = bind(host, port)
    except OSError as exc:
        reason = "port in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        print(f"error: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 2
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: only the configured proxies
    proxies = cfg.deployment.server.trusted_proxies
    config = uvicorn.Config(
        guard,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or [],
        # live event streams never end by themselves: without a bound, shutdown would wait for them forever
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    raise_loop_priority(cfg.deployment.server.realtime_loop)  # this thread runs the event loop: live view's
    with sock, asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        try:
            runner.run(server.serve(sockets=[sock]))
        except SystemExit:  # uvicorn exits this way when the start-up failed
            pass
    if guard.reason:
        print(f"error: {guard.reason}", file=sys.stderr)
        return 1
    return 0 if server.started else 1
