"""Run the app under uvicorn, with one-line reasons for start-up failures."""

from __future__ import annotations

import errno
import logging
import socket
import sys

import uvicorn

from core.app import create_app
from core.config import LoadedConfig
from core.logs import setup_logging

log = logging.getLogger("bconnect.serve")


def serve(cfg: LoadedConfig, host: str | None = None, port: int | None = None) -> int:
    setup_logging()
    server_cfg = cfg.deployment.server
    host = host or server_cfg.host
    port = port or server_cfg.port
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        reason = "port in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"error: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 2
    app = create_app(cfg)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1
