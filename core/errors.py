"""Every error answer is JSON (or a page for browsers) with a reason; never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("bconnect.http")


class ApiError(HTTPException):
    """Raise from a handler: ``raise ApiError(400, "sdp: not an offer")``."""


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = getattr(exc, "headers", None)
    return JSONResponse({"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code, headers=headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error", "status": 500}, status_code=500)


def error_handlers() -> dict:
    return {HTTPException: _http_error, Exception: _server_error}
