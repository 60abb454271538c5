"""Reading request bodies with bounds, for every handler that takes JSON.

``request.body()`` reads whatever arrives; a chunked body announces no length,
so the size bound is checked while reading. ``json.loads`` alone accepts what
no client of ours sends and what breaks a handler later: arrays nested
thousands deep (a ``RecursionError`` in the parser or in the handler that
walks them), integers of hundreds of digits (an ``OverflowError`` in the first
float operation) and ``NaN``/``Infinity``. :func:`parse_json` refuses each with
a reason that names the key, so every route that reads JSON through it
answers ``400``, never 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from core.errors import ApiError

MAX_JSON_BODY = 64 * 1024  # a command or a GPS fix is a few hundred bytes
MAX_JSON_DEPTH = 32  # our bodies are objects of scalars, lists at most two deep
MAX_JSON_INT = 2**53 - 1  # beyond it JSON numbers are not exact in most clients (RFC 7493, I-JSON)
MAX_TEXT = 1000  # a note, a reason: a paragraph at most


class BodyError(ValueError):
    """A JSON body refused; ``reason`` is fit for a 400 answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _within(value: Any, max_depth: int) -> bool:
    """Whether the parsed value keeps the bounds: one walk, no recursion, no allocation per scalar."""
    if type(value) not in (dict, list):
        return _scalar_ok(value)
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return False
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif (kind is int and not -MAX_JSON_INT <= child <= MAX_JSON_INT) or (kind is float and child - child != 0):
                return False  # (inf - inf and nan - nan are nan)
    return True


def _scalar_ok(value: Any) -> bool:
    if type(value) is int:
        return -MAX_JSON_INT <= value <= MAX_JSON_INT
    return not (type(value) is float and value - value != 0)


def _reason(value: Any, max_depth: int, where: str = "", depth: int = 1) -> str | None:
    """Why ``value`` is out of bounds, naming the key; only walked once :func:`_within` said no."""
    if isinstance(value, (dict, list)):
        if depth > max_depth:
            return f"body: nested more than {max_depth} levels deep"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            path = (f"{where}.{key}" if where else str(key)) if isinstance(value, dict) else f"{where}[{key}]"
            reason = _reason(child, max_depth, path, depth + 1)
            if reason:
                return reason
        return None
    if _scalar_ok(value):
        return None
    where = where[:80] or "body"
    if isinstance(value, int):
        return f"{where}: integer too large (at most ±{MAX_JSON_INT})"
    return f"{where}: expected a number ({value} is not one JSON can carry)"


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of ``raw``, within the bounds above.

    :raises BodyError: not JSON, nested deeper than ``max_depth``, an integer
        beyond ±2^53-1, a number beyond a float, ``NaN`` or ``Infinity``; the
        reason names the key (``post_s: expected a number ...``).
    """
    try:
        # Python refuses integers of more than 4300 digits itself (a ValueError, so "not valid JSON")
        value = json.loads(raw)
    except RecursionError:
        raise BodyError(f"body: nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise BodyError(f"body: integer too large (at most ±{MAX_JSON_INT})") from None
        raise BodyError("body: not valid JSON") from None
    if not _within(value, max_depth):
        # _reason recurses, but stops at max_depth
        raise BodyError(_reason(value, max_depth) or "body: out of bounds")
    return value


async def limited_body(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` once it exceeds ``limit`` bytes."""
    size = request.headers.get("content-length")
    if size is not None and (not (size.isascii() and size.isdigit()) or int(size) > limit):
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The body's JSON object (``{}`` for an empty body); 400 with the reason for any other value or, when
    ``keys`` are given, for the first key that is not one of them."""
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "body: expected a JSON object")
    if keys is not None:
        keys = tuple(keys)
        extra = sorted(set(body) - set(keys))
        if extra:
            raise ApiError(400, f"{extra[0][:40]}: unknown key (expected: {', '.join(keys) or 'none'})")
    return body


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


def text_field(body: dict[str, Any], key: str, *, required: bool = False, size: int = MAX_TEXT) -> str:
    """``body[key]`` as a stripped string (``""`` when absent); 400 if not a string, 422 if required and
    empty or longer than ``size``."""
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ApiError(400, f"{key}: expected a string")
    value = value.strip()
    if required and not value:
        raise ApiError(422, f"{key}: required")
    if len(value) > size:
        raise ApiError(422, f"{key}: {len(value)} characters, at most {size}")
    return value


def check_version(body: dict[str, Any], now: int, what: str, state: str) -> None:
    """Optimistic locking: when the body carries ``version`` (the one the client loaded), 409 unless it is
    still ``now``; ``what`` names the record (``violation 12``), ``state`` is its state now."""
    version = body.get("version")
    if version is None:
        return
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApiError(400, "version: expected a whole number")
    if version != now:
        raise ApiError(409, f"{what} changed since you loaded it (version {version}, now {now}, {state}); reload it")
