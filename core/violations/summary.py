"""The dashboard's figures: violations per area and day and per kind, ladder steps, the backlog, time to review.

One read of the period's rows, counted here rather than in SQL, so that the
same code answers on SQLite and PostgreSQL (day buckets in UTC). A period is at
most :data:`DAYS_MAX` days, which bounds the rows read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from core.violations.models import Violation

DAYS_MAX = 366
ACTED = ("action_taken", "handed_to_sink", "closed")  # the ladder step was carried out


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return round(ordered[int(rank) - 1], 1)


async def summary(agencies: list[str], days: int, now: datetime) -> dict[str, Any]:
    """The figures of the last ``days`` days (by detection time) of the violations of ``agencies``."""
    today = now.astimezone(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    rows = await Violation.filter(agency__in=agencies, wall_time__gte=since).values(
        "area", "kind", "state", "ladder_step", "wall_time", "created_at", "decided_at")
    per_day: dict[str, Counter] = defaultdict(Counter)
    kinds: Counter = Counter()
    steps: Counter = Counter()
    states: Counter = Counter()
    review_s: list[float] = []
    for r in rows:
        day = r["wall_time"].astimezone(timezone.utc).date().isoformat()
        per_day[r["area"] or "none"][day] += 1
        kinds[r["kind"]] += 1
        states[r["state"]] += 1
        if r["state"] in ACTED and r["ladder_step"]:
            steps[r["ladder_step"]] += 1
        if r["decided_at"] is not None and r["created_at"] is not None:
            review_s.append(max(0.0, (r["decided_at"] - r["created_at"]).total_seconds()))
    waiting = Violation.filter(agency__in=agencies, state__in=("detected", "awaiting_review"))
    oldest = await waiting.order_by("created_at").first().values("created_at")
    return {
        "days": [(first + timedelta(days=i)).isoformat() for i in range(days)],
        "since": since.isoformat().replace("+00:00", "Z"),
        "total": len(rows),
        "per_area_day": {area: dict(sorted(c.items())) for area, c in sorted(per_day.items())},
        "per_kind": dict(kinds.most_common()),
        "per_state": dict(sorted(states.items())),
        "ladder_actions": dict(steps.most_common()),
        "backlog": {
            "awaiting_review": await waiting.count(),
            "oldest_waiting_s": round((now - oldest["created_at"]).total_seconds(), 1) if oldest else None,
        },
        "time_to_review_s": {"decided": len(review_s), "median": _percentile(review_s, 50),
                             "p90": _percentile(review_s, 90)},
    }
