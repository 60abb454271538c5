"""GPS fixes of mobile units: checked, kept (latest per unit) and looked up.

The latest fix of each unit is stored (table ``polri_unit_fixes``) and held in
memory, so an event can be stamped with where the unit was at that moment
without a database round trip. A fix older than the one held is acknowledged
but does not replace it (fixes may arrive out of order over mobile networks).
Every fix is also appended to the unit's track (``polri_unit_track``): a letter
is written days after the capture and prints where the unit was then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from plugins.polri_etle.models import UnitFix, UnitTrack

MAX_CLOCK_AHEAD = timedelta(minutes=5)  # a device clock may run a little fast


class BadFix(ValueError):
    """A reported fix that cannot be taken; the message says why."""


@dataclass(frozen=True)
class Fix:
    unit: str
    lat: float
    lon: float
    time: datetime  # when the unit measured it (UTC)
    received_at: datetime

    def public(self, now: datetime, stale_after_s: float) -> dict[str, Any]:
        age = (now - self.time).total_seconds()
        return {
            "unit": self.unit,
            "lat": self.lat,
            "lon": self.lon,
            "time": self.time.isoformat(),
            "received_at": self.received_at.isoformat(),
            "age_s": round(age, 1),
            "stale": age > stale_after_s,
        }


def parse_fix(unit: str, body: Any, now: datetime) -> Fix:
    """A :class:`Fix` from a request body ``{"lat", "lon", "time"}``; :class:`BadFix` if not."""
    if not isinstance(body, dict):
        raise BadFix("body: expected a JSON object with lat, lon and time")
    extra = sorted(set(body) - {"lat", "lon", "time"})
    if extra:
        raise BadFix(f"{extra[0]}: unknown key (expected: lat, lon, time)")
    lat = _coordinate(body, "lat", 90)
    lon = _coordinate(body, "lon", 180)
    raw = body.get("time")
    if not isinstance(raw, str):
        raise BadFix("time: expected an ISO 8601 time with a UTC offset, e.g. 2025-06-01T08:30:00+08:00")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise BadFix(f"time: {raw[:40]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise BadFix("time: needs a UTC offset (e.g. +08:00 for WITA, or Z)")
    try:
        when = when.astimezone(timezone.utc)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise BadFix(f"time: {raw[:40]} is out of range in UTC") from None
    if when > now + MAX_CLOCK_AHEAD:
        raise BadFix(f"time: {raw[:40]} is in the future")
    return Fix(unit, lat, lon, when, now)


def _coordinate(body: dict[str, Any], key: str, limit: float) -> float:
    if key not in body:
        raise BadFix(f"{key}: missing value")
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadFix(f"{key}: expected a number")
    if isinstance(value, int) and not -limit <= value <= limit:
        # compared as an int: a huge one does not fit a float, and its digits are not worth echoing
        shown = value if abs(value) < 10**12 else f"{str(value)[:12]}..."
        raise BadFix(f"{key}: {shown} is outside -{limit:g}..{limit:g}")
    if not math.isfinite(value):
        raise BadFix(f"{key}: expected a number")
    if not -limit <= value <= limit:
        raise BadFix(f"{key}: {value} is outside -{limit:g}..{limit:g}")
    return float(value)


class FixStore:
    """The latest fix of every unit: in memory, backed by the database."""

    def __init__(self, units: set[str]) -> None:
        self.units = units
        self._latest: dict[str, Fix] = {}

    async def load(self) -> None:
        for row in await UnitFix.filter(unit__in=list(self.units)):
            self._latest[row.unit] = Fix(row.unit, row.lat, row.lon, row.fix_time, row.received_at)

    def latest(self, unit: str) -> Fix | None:
        return self._latest.get(unit)

    async def report(self, fix: Fix, by: str) -> bool:
        """Keep ``fix`` if it is newer than the one held; True if it was kept."""
        held = self._latest.get(fix.unit)
        if not await UnitTrack.filter(unit=fix.unit, fix_time=fix.time).exists():
            await UnitTrack.create(unit=fix.unit, lat=fix.lat, lon=fix.lon, fix_time=fix.time)
        if held is not None and held.time >= fix.time:
            return False
        await UnitFix.update_or_create(
            defaults={"lat": fix.lat, "lon": fix.lon, "fix_time": fix.time, "received_at": fix.received_at, "reported_by": by},
            unit=fix.unit,
        )
        self._latest[fix.unit] = fix
        return True

    def position_at(self, unit: str, when: datetime, stale_after_s: float) -> Fix | None:
        """Where ``unit`` was at ``when``: its latest fix if measured within
        ``stale_after_s`` of that moment, else ``None`` (position unknown)."""
        fix = self._latest.get(unit)
        if fix is None or abs((when - fix.time).total_seconds()) > stale_after_s:
            return None
        return fix


async def tracked_position(unit: str, when: datetime, within_s: float) -> tuple[float, float, datetime] | None:
    """Where ``unit`` was at ``when`` by its track: the fix nearest in time, if within ``within_s``
    (``lat, lon, fix time``), else ``None``."""
    window = timedelta(seconds=within_s)
    before = await UnitTrack.filter(unit=unit, fix_time__lte=when, fix_time__gte=when - window).order_by("-fix_time").first()
    after = await UnitTrack.filter(unit=unit, fix_time__gt=when, fix_time__lte=when + window).order_by("fix_time").first()
    near = [r for r in (before, after) if r is not None]
    if not near:
        return None
    best = min(near, key=lambda r: abs((r.fix_time - when).total_seconds()))
    return best.lat, best.lon, best.fix_time


async def prune_track(older_than: datetime) -> int:
    """Forget fixes measured before ``older_than`` (retention); returns how many."""
    return await UnitTrack.filter(fix_time__lt=older_than).delete()
