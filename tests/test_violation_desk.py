"""What a sink plugin gets of the violation workflow (``PluginServices.violations``): read, then close."""

from __future__ import annotations

import pytest
from support.violations import DEPLOYMENT, create, headers

from core.auth import audit
from core.config import load_file
from core.testing.app import running_app
from core.violations.models import ViolationTransition
from core.errors import Refused


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(DEPLOYMENT).path)


async def test_a_sink_reads_a_handed_over_violation_and_closes_its_case(cfg):
    async with running_app(cfg) as (app, client):
        desk = app.state.services.public().violations
        h = await headers("pof", "officer", "pemkot")
        made = await create(client, h)
        assert (await desk.get(made["id"]))["state"] == "awaiting_review"
        with pytest.raises(Refused) as early:  # the sinks have not had it yet
            await desk.close(made["id"], "kejaksaan_export", "decided")
        assert early.value.status == 409 and "awaiting_review" in str(early.value)
        await client.post(f"/api/violations/{made['id']}/verify", json={}, headers=h)
        r = await client.post(f"/api/violations/{made['id']}/action", json={"note": "sticker"}, headers=h)
        assert r.json()["state"] == "handed_to_sink"
        seen = await desk.get(made["id"])
        assert seen["plate"]["text"] == "KT1234AB" and seen["legal"]["pasal"] == "287"
        closed = await desk.close(made["id"], "kejaksaan_export", "fine paid")
        assert closed["state"] == "closed"
        last = await ViolationTransition.filter(violation_id=made["id"]).order_by("-id").first()
        assert (last.from_state, last.to_state, last.by, last.reason) == (
            "handed_to_sink", "closed", "kejaksaan_export", "fine paid")
        assert [a.actor for a in await audit.entries(action="violation.closed")] == ["kejaksaan_export"]
        assert await desk.get(999999) is None
        with pytest.raises(Refused) as unknown:
            await desk.close(999999, "x", "y")
        assert unknown.value.status == 404
