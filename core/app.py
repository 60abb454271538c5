"""The app factory: one deployment in, one starlette app out.

Composition is declared here, once: plugin host, storage, scheduler, routes,
middleware and the lifespan that starts and stops them in order.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from core.auth.middleware import AuthMiddleware
from core.config import LoadedConfig
from core.errors import error_handlers
from core.gc_pauses import GcWatch
from core.http_metrics import HttpMetricsMiddleware
from core.metrics import Metrics
from core.plugin_host import PluginHost, load_plugins
from core.scheduler import Scheduler
from core.services import Services
from core.storage import close_database, model_sets, open_database

log = logging.getLogger("bconnect.app")


def create_app(cfg: LoadedConfig, *, host: PluginHost | None = None) -> Starlette:
    """Build the app for a validated deployment; nothing starts until lifespan.

    Command-line overrides (``--data-dir`` ...) are already in ``cfg`` (``core.cli``).
    """
    deployment = cfg.deployment
    plugins = host or load_plugins(cfg)
    metrics = Metrics()
    plugins.failure_listeners.append(metrics.on_plugin_failure)
    services = Services(
        deployment=deployment,
        config_path=cfg.path,
        plugins=plugins,
        data_dir=deployment.data_path(),
        metrics=metrics,
    )
    plugins.views["services"] = services.public  # deployment plugins see the read-only view
    routes = collect_routes(plugins)
    gc_watch = GcWatch(metrics.gc_pause)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.data_dir.mkdir(parents=True, exist_ok=True)
        await open_database(deployment.database_url(), model_sets(plugins))
        services.scheduler = Scheduler(plugins, metrics, deployment.deployment.timezone)
        services.scheduler.start()
        await plugins.acall("bconnect_startup", services=services)
        services.started_at = time.time()
        gc_watch.start()
        metrics.up.set(1)
        log.info("B-Connect started: %s, %d plugins", deployment.deployment.name, len(plugins.enabled()))
        try:
            yield
        finally:
            metrics.up.set(0)
            gc_watch.stop()
            await plugins.acall("bconnect_shutdown", services=services)
            services.scheduler.shutdown()
            await close_database()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(HttpMetricsMiddleware, services=services), Middleware(AuthMiddleware, services=services)],
        exception_handlers=error_handlers(),
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def collect_routes(plugins: PluginHost) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    seen: dict[tuple[str, frozenset[str]], str] = {}
    for plugin, route in plugins.collect("bconnect_register_routes"):
        if not isinstance(route, (Route, WebSocketRoute, Mount)):
            plugins.report_failure(plugin, "bconnect_register_routes", TypeError(f"not a route: {route!r}"))
            continue
        key = (route.path, frozenset(getattr(route, "methods", None) or ()))
        if key in seen:
            plugins.report_failure(
                plugin, "bconnect_register_routes", ValueError(f"route {route.path} already added by {seen[key]}")
            )
            continue
        seen[key] = plugin
        routes.append(route)
    # mounts (static files) last so that they never shadow an API route
    routes.sort(key=lambda r: isinstance(r, Mount))
    return routes
