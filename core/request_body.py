"""Reading request bodies with bounds, for every handler that takes JSON.

``request.body()`` reads whatever arrives; a chunked body announces no length,
so the size bound is checked while reading. ``json.loads`` alone accepts what
no client of ours sends and what breaks a handler later: arrays nested
thousands deep (a ``RecursionError`` in the parser or in the handler that
walks them), integers of hundreds of digits (an ``OverflowError`` in the first
float operation) and ``NaN``/``Infinity``. :func:`parse_json` refuses each with
a reason, so every route that reads JSON through it answers ``400``, never 500.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from core.errors import ApiError

MAX_JSON_BODY = 64 * 1024  # a command or a GPS fix is a few hundred bytes
MAX_JSON_DEPTH = 32  # our bodies are objects of scalars, lists at most two deep
MAX_JSON_INT = 2**53 - 1  # beyond it JSON numbers are not exact in most clients (RFC 7493, I-JSON)


class BodyError(ValueError):
    """A JSON body refused; ``reason`` is fit for a 400 answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _int(text: str) -> int:
    # the digit count first: int() of a 100,000-digit string is itself slow
    if len(text) > 17 or abs(value := int(text)) > MAX_JSON_INT:
        raise BodyError(f"body: integer {text[:24]}{'...' if len(text) > 24 else ''} is too large (at most ±{MAX_JSON_INT})")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(f"body: number {text[:24]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise BodyError(f"body: {name} is not a JSON number")


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of ``raw``, within the bounds above.

    :raises BodyError: not JSON, nested deeper than ``max_depth``, an integer
        beyond ±2^53-1, a number beyond a float, ``NaN`` or ``Infinity``.
    """
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except BodyError:
        raise
    except RecursionError:
        raise BodyError(f"body: nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        raise BodyError("body: not valid JSON") from None
    if not _depth_within(value, max_depth):
        raise BodyError(f"body: nested more than {max_depth} levels deep")
    return value


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
        return parse_json(raw)
    except BodyError as exc:
        raise ApiError(400, exc.reason) from None
