"""``GET /api/violations/summary``: the dashboard's figures, over the real app and its SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.violations import DEPLOYMENT, create, headers

from core.config import load_file
from core.testing.app import running_app
from core.violations.models import Violation
from core.violations.summary import _percentile


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(DEPLOYMENT).path)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


async def test_the_summary_counts_per_area_day_kind_step_and_times_review(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        today, three_ago = now - timedelta(minutes=5), now - timedelta(days=3)
        a = await create(client, h, when=iso(three_ago))
        b = await create(client, h, when=iso(today))
        c = await create(client, h, camera="pcam", plate="KT 9 XY", when=iso(today))  # beller: education mode
        d = await create(client, h, plate="KT 77 QQ", when=iso(today))
        await create(client, h, plate="KT 5 ZZ", when=iso(now - timedelta(days=40)))  # outside 30 days
        for v in (a, b):
            assert (await client.post(f"/api/violations/{v['id']}/verify", json={}, headers=h)).status_code == 200
        assert (await client.post(f"/api/violations/{a['id']}/action", json={}, headers=h)).status_code == 200
        r = await client.post(f"/api/violations/{c['id']}/reject", headers=h,
                              json={"reason": "duplicate", "note": "seen twice", "officer_name": "Bripka Andi"})
        assert r.status_code == 200, r.text
        # decisions 60 s and 600 s after creation: the times to review are known
        for v, seconds in ((a, 60), (b, 600)):
            decided = datetime.fromisoformat(v["created_at"]) + timedelta(seconds=seconds)
            await Violation.filter(id=v["id"]).update(decided_at=decided)

        r = await client.get("/api/violations/summary", headers=h)
        assert r.status_code == 200, r.text
        s = r.json()
        assert len(s["days"]) == 30 and s["days"][-1] == now.date().isoformat()
        assert s["total"] == 4
        assert s["per_area_day"] == {
            "beruang_madu": {three_ago.date().isoformat(): 1, today.date().isoformat(): 2},
            "beller": {today.date().isoformat(): 1},
        }
        assert s["per_kind"] == {"parking.violation": 4}
        assert s["per_state"] == {"awaiting_review": 1, "handed_to_sink": 1, "rejected": 1, "verified": 1}
        assert s["ladder_actions"] == {"teguran": 1}
        assert s["backlog"]["awaiting_review"] == 2  # d, and the one outside the period
        assert s["backlog"]["oldest_waiting_s"] >= 0
        assert s["time_to_review_s"]["decided"] == 3
        assert (s["time_to_review_s"]["median"], s["time_to_review_s"]["p90"]) == (60.0, 600.0)
        assert s["rejection_reasons"] == ["not_a_violation", "plate_unreadable", "duplicate"]
        assert s["ladder"] == ["teguran", "stiker", "kempes_ban", "derek"]
        assert s["kinds"] == ["parking.violation"]
        assert d["state"] == "awaiting_review"

        r = await client.get("/api/violations/summary?days=366", headers=h)
        assert r.json()["total"] == 5

        # polri sees polri's cameras only; a prosecutor reads
        p = await headers("ppros", "prosecutor", "polri")
        r = await client.get("/api/violations/summary", headers=p)
        assert r.status_code == 200 and r.json()["total"] == 1 and list(r.json()["per_area_day"]) == ["beller"]


async def test_the_summary_refuses_other_roles_and_bad_parameters(cfg):
    async with running_app(cfg) as (app, client):
        for role in ("viewer", "operator"):
            r = await client.get("/api/violations/summary", headers=await headers(f"u{role}", role, "pemkot"))
            assert r.status_code == 403 and "role" in r.json()["error"]
        h = await headers("pof", "officer", "pemkot")
        for query, words in (("days=0", "1..366"), ("days=367", "1..366"), ("days=x", "whole number"),
                             ("since=2026-01-01", "unknown parameter")):
            r = await client.get(f"/api/violations/summary?{query}", headers=h)
            assert r.status_code == 400 and words in r.json()["error"], (query, r.text)


def test_percentiles_are_nearest_rank():
    assert _percentile([], 50) is None
    assert _percentile([60.0, 600.0, 5.0], 50) == 60.0
    assert _percentile([float(i) for i in range(1, 11)], 90) == 9.0
