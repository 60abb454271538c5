"""Counts HTTP answers by status class (2xx, 4xx ...) for ``GET /metrics``."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetricsMiddleware:
    """Outermost middleware, so that answers the auth layer gives are counted too."""

    def __init__(self, app: ASGIApp, services) -> None:
        self.app = app
        self.counter = services.metrics.http_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the answer started still ends as a 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.counter.labels(status=f"{status // 100}xx").inc()
