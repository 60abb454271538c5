"""Core routes as a default plugin: health, metrics, web UI assets, analytics zones."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core import loop_priority
from core.analytics import tracks_api, zones_api
from core.auth.access import camera_agencies
from core.auth.middleware import authenticate
from core.auth.principal import Principal
from core.hookspecs import hookimpl
from core.media.packets import CameraState
from core.openapi import openapi_json

if TYPE_CHECKING:
    from core.media.registry import CameraRuntime

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
log = logging.getLogger("bconnect.health")


async def optional_principal(request: Request) -> Principal | None:
    """The caller's principal if its credentials are good, else ``None``.

    ``/api/health`` is public, so the middleware authenticated nobody. Bad or
    expired credentials get the anonymous answer, not a 401: a probe left with a
    stale token must keep working, and the anonymous answer shows nothing that
    the credentials would have unlocked. A failing user database must not take
    the health check down with it either.
    """
    try:
        result = await authenticate(request.scope)
    except Exception:
        log.exception("health: could not check the caller's credentials; answering as to an anonymous caller")
        return None
    return result[0] if isinstance(result, tuple) else None


async def plugin_health(services) -> dict[str, dict[str, Any]]:
    """Each plugin's status, error count, reason and own report; a failed plugin shows its reason."""
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
    return plugins


def camera_counts(runtimes: list[CameraRuntime]) -> dict[str, int]:
    """How many cameras there are, and how many in each state (every state listed, zero or not)."""
    counts = {"total": len(runtimes)} | {state.value: 0 for state in CameraState}
    for rt in runtimes:
        counts[rt.status.state.value] += 1
    return counts


async def health(request: Request) -> Response:
    """Overall health for anyone; camera and plugin detail only for those allowed to see it.

    Anonymous (a load balancer, a monitoring probe): ``status``, ``uptime_s`` and
    counts of cameras per state and of degraded plugins, never an id or a reason
    (reasons can name hosts). A user: every camera their agency may watch, by
    id, with its state and reason. An admin also gets each plugin's status,
    reason and report; for others those stay counts, because a plugin's reason
    may name another agency's camera or a host.
    ---
    summary: Overall health; camera and plugin detail for a user
    responses:
      200: {description: 'status, uptime and cameras', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    services = request.app.state.services
    principal = await optional_principal(request)
    plugins = await plugin_health(services)
    runtimes = services.cameras.all() if services.cameras is not None else []
    degraded = sum(1 for p in plugins.values() if p["status"] != "ok")
    body: dict[str, Any] = {
        "status": "degraded" if degraded else "ok",
        "uptime_s": round(time.time() - services.started_at, 1) if services.started_at else 0,
    }
    plugin_summary = {"total": len(plugins), "degraded": degraded}
    if principal is None:
        body["plugins"] = plugin_summary
        body["cameras"] = camera_counts(runtimes)
        return JSONResponse(body)
    agencies = camera_agencies(principal, services.deployment)
    body["plugins"] = plugins if principal.role == "admin" else plugin_summary
    hub = services.transcodes  # the viewing side says which cameras it transcodes
    body["cameras"] = {
        rt.info.id: rt.health(hub is not None and hub.running(rt.info.id)) for rt in runtimes if rt.info.agency in agencies
    }
    if services.analytics is not None:
        for camera_id, entry in body["cameras"].items():
            entry["analytics"] = services.analytics.camera_health(camera_id)
    if principal.role == "admin":
        body["live_loop"] = loop_priority.describe()  # asked on the loop's own thread
    if principal.role == "admin" and services.cameras is not None:
        body["ingest"] = services.cameras.ingest_health()  # server operations: admins only, like plugin detail
    if principal.role == "admin" and services.events is not None:
        body["sinks"] = services.events.sinks_health()  # each sink's cursor, lag and why it fails
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    """Prometheus metrics.
    ---
    responses:
      200: {description: 'the metrics', content: {text/plain: {schema: {type: string}}}}
    """
    services = request.app.state.services
    return Response(services.metrics.render(), media_type=services.metrics.content_type)


async def index(request: Request) -> Response:
    """The web UI (redirects to it).
    ---
    responses:
      303: {description: 'to /static/index.html'}
    """
    return RedirectResponse("/static/index.html", status_code=303)


class CorePlugin:
    def __init__(self, config, context) -> None:
        self.context = context

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route("/api/health", health, methods=["GET"]))
        register(Route("/metrics", metrics, methods=["GET"]))
        register(Route("/openapi.json", openapi_json, methods=["GET"]))
        register(Route("/", index, methods=["GET"]))
        for route in [*zones_api.routes(), *tracks_api.routes()]:
            register(route)
        register(Mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static"))

    @hookimpl
    async def bconnect_startup(self, services):
        await services.zones.load_all()  # before any plugin's startup: rules find the zones there
        if services.deployment.analytics.zone_files:
            from core.analytics.zone_seed import seed_zones

            await seed_zones(services.zones, services.deployment.analytics.zone_files, services.config_path.parent)
