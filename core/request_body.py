"""Reading request bodies with a bound, for handlers that take JSON.

``request.body()`` reads whatever arrives; a chunked body announces no length,
so the bound is checked while reading.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from core.errors import ApiError

MAX_JSON_BODY = 64 * 1024  # a command or a GPS fix is a few hundred bytes


async def limited_body(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` once it exceeds ``limit`` bytes."""
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > limit):
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = MAX_JSON_BODY) -> Any:
    """The body's JSON value (``None`` for an empty body); ``413``/``400`` with the reason otherwise."""
    raw = await limited_body(request, limit)
    if raw is None:
        raise ApiError(413, f"body: too large (at most {limit} bytes)")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body: not valid JSON") from None
