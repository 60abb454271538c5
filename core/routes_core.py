"""Core routes as a default plugin: health, metrics, web UI assets."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.hookspecs import hookimpl

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def health(request: Request) -> Response:
    """Overall and per-plugin health; a plugin that failed anywhere shows its reason."""
    services = request.app.state.services
    host = services.plugins
    # ask first, so that a plugin whose health hook raises is degraded in this very answer
    reports = dict(await host.acall("bconnect_health", services=services))
    plugins = {}
    for name, state in host.states.items():
        if state.builtin_core and not state.errors:
            continue
        entry = {
            "status": state.status,
            "errors": state.errors,
            "reason": f"{state.last_where}: {state.last_error}" if state.errors else None,
        }
        report = reports.get(name)
        if isinstance(report, dict):
            entry["report"] = report
            if report.get("status") in ("degraded", "down") and entry["status"] == "ok":
                entry["status"] = report["status"]
                entry["reason"] = str(report.get("reason") or report.get("detail") or "reported by the plugin")
        plugins[name] = entry
    cameras = services.cameras.health() if services.cameras is not None else {}
    degraded = any(p["status"] != "ok" for p in plugins.values())
    body = {
        "status": "degraded" if degraded else "ok",
        "uptime_s": round(time.time() - services.started_at, 1) if services.started_at else 0,
        "plugins": plugins,
        "cameras": cameras,
    }
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    services = request.app.state.services
    return Response(services.metrics.render(), media_type=services.metrics.content_type)


async def index(request: Request) -> Response:
    return RedirectResponse("/static/index.html", status_code=303)


class CorePlugin:
    def __init__(self, config, context) -> None:
        self.context = context

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route("/api/health", health, methods=["GET"]))
        register(Route("/metrics", metrics, methods=["GET"]))
        register(Route("/", index, methods=["GET"]))
        register(Mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static"))
