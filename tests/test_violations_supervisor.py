"""The supervisor role: reads the report and the dashboard of its agency's data, assigns, decides nothing.

Real app, real database. Test deployment (tests/support): ``dcam`` is dishub's, ``pcam`` polri's;
dishub reads dishub's data, polri polri's, pemkot everyone's.
"""

from __future__ import annotations

import pytest
from support.violations import DEPLOYMENT, create, headers

from core.config import load_file
from core.models import AuditEntry
from core.testing.app import running_app


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(DEPLOYMENT).path)


async def test_a_supervisor_reads_its_agencys_report_and_dashboard_and_assigns_but_never_decides(cfg):
    async with running_app(cfg) as (app, client):
        boss = await headers("sari", "supervisor", "dishub")
        dishub = await headers("dodi", "officer", "dishub")
        polri = await headers("pandu", "officer", "polri")
        await headers("jaksa", "prosecutor", "dishub")
        mine = await create(client, dishub, camera="dcam", plate="KT 11 A")
        theirs = await create(client, polri, camera="pcam", plate="KT 22 B")
        rejected = await create(client, dishub, camera="dcam", plate="KT 33 C")
        r = await client.post(f"/api/violations/{rejected['id']}/reject", headers=dishub,
                              json={"reason": "duplicate", "note": "twice", "officer_name": "Dodi"})
        assert r.status_code == 200, r.text

        # the report: its agency's decisions only; audited like every read of plates
        r = await client.get("/api/violations/stats?since=2020-01-01T00:00:00Z", headers=boss)
        assert r.status_code == 200, r.text
        assert r.json()["officers"] == [{"user": "dodi", "decided": 1, "rejected": 1, "rejection_rate": 1.0}]
        assert await AuditEntry.filter(actor="sari", action="violation.stats").exists()
        assert (await client.get("/api/violations/stats", headers=dishub)).status_code == 403
        summary = await client.get("/api/violations/summary?days=366", headers=boss)
        assert summary.status_code == 200 and summary.json()["total"] == 2, summary.text
        assert (await client.get("/dashboard", headers=boss)).status_code == 200
        listed = (await client.get("/api/violations", headers=boss)).json()["violations"]
        assert sorted(v["id"] for v in listed) == sorted([mine["id"], rejected["id"]])
        r = await client.get(f"/api/violations/{theirs['id']}", headers=boss)
        assert r.status_code == 404  # polri's data

        # decides nothing, enters nothing, edits no plate, has no review page
        for path, body in (("verify", {}), ("reject", {"reason": "duplicate", "note": "n", "officer_name": "S"}),
                           ("action", {}), ("close", {})):
            r = await client.post(f"/api/violations/{mine['id']}/{path}", json=body, headers=boss)
            assert r.status_code == 403, (path, r.text)
        r = await client.patch(f"/api/violations/{mine['id']}/plate", json={"plate": "KT 1 A"}, headers=boss)
        assert r.status_code == 403
        r = await client.post("/api/violations", headers=boss,
                              json={"camera": "dcam", "kind": "parking.violation", "wall_time": "2026-01-05T09:00:00Z"})
        assert r.status_code == 403
        assert (await client.get("/review", headers=boss)).status_code == 403

        # assigns: to an officer who may read the violation, never to anyone else
        url = f"/api/violations/{mine['id']}/assign"
        r = await client.post(url, json={"user": "dodi"}, headers=boss)
        assert r.status_code == 200 and r.json()["assigned_to"] == "dodi", r.text
        assert await AuditEntry.filter(actor="sari", action="violation.assign", target=str(mine["id"])).exists()
        for user, why in (("pandu", "no officer who may review violations of dishub"),
                          ("jaksa", "no officer who may review"), ("nobody", "no active user named 'nobody'"),
                          ("sari", "no officer who may review")):
            r = await client.post(url, json={"user": user}, headers=boss)
            assert r.status_code == 422 and why in r.json()["error"], (user, r.text)
        r = await client.post(url, json={}, headers=boss)
        assert r.status_code == 422 and "names the officer" in r.json()["error"]
        r = await client.post(url, json={"user": None}, headers=boss)
        assert r.status_code == 200 and r.json()["assigned_to"] is None
        # an officer still assigns only to themselves
        r = await client.post(url, json={"user": "pandu"}, headers=dishub)
        assert r.status_code == 403
