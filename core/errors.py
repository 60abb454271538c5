"""Every error answer is JSON (or a page for browsers) with a reason; never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("bconnect.http")


class ApiError(HTTPException):
    """Raise from a handler: ``raise ApiError(400, "sdp: not an offer")``."""


class Refused(Exception):
    """A request a service (not a handler) refuses: ``status`` (the HTTP status that fits: 404, 409, 422,
    429, 503), ``reason`` and ``headers`` go to the client; the handler turns it into an answer."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = getattr(exc, "headers", None)
    return JSONResponse({"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code, headers=headers)


async def _unprocessable(request: Request, exc: Exception) -> Response:
    # Hostile input that got past the body reader (core.request_body) and broke
    # a handler: a value too large for a float, nesting past the recursion limit.
    # The client's doing, so a 400 with a reason; logged, as it is also our bug.
    log.warning("%s on %s %s: answered 400", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "request: a value is too large or nested too deeply", "status": 400}, status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error", "status": 500}, status_code=500)


def error_handlers() -> dict:
    return {HTTPException: _http_error, RecursionError: _unprocessable, OverflowError: _unprocessable, Exception: _server_error}
