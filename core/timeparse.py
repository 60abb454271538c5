"""Reading an instant a client sent (a query parameter or a JSON value) as an aware UTC datetime.

One reader for every route, so that each gives the same reasons: not ISO 8601, no time zone, or a moment
that only exists in local time (year 1 at +08:00, year 9999 at -08:00), which ``astimezone`` cannot convert.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from core.errors import ApiError


def parse_instant(raw: Any, key: str) -> datetime | None:
    """``raw`` as UTC (``None`` stays ``None``); a 400 naming ``key`` and the reason otherwise."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ApiError(400, f"{key}: expected an ISO 8601 time as a string")
    try:
        # a "+" in a query string arrives as a space
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(400, f"{key}: not an ISO 8601 time: {raw[:40]!r}") from None
    if value.tzinfo is None:
        raise ApiError(400, f"{key}: give the time zone (2026-01-05T16:00:00+08:00 or ...Z)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ApiError(400, f"{key}: {raw[:40]!r} is out of range in UTC") from None
