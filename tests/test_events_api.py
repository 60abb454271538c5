"""Events over HTTP: publish through the bus, list with filters, see only what the agency may, acknowledge once.

The real app with its real database; cameras of two agencies in an
enforcement area and an education area (tests/support/events.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from support.events import CAMERAS, event

from core.auth import audit
from core.testing.app import add_user, bearer_headers, running_app
from core.config import load_file
from core.events.bus import UnknownCamera


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(CAMERAS).path)


async def headers(name: str, role: str, agency: str) -> dict[str, str]:
    return await bearer_headers(await add_user(name, role=role, agency=agency))


async def test_publish_stores_with_the_camera_agency_area_and_mode(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        d = await bus.publish(event("dcam", detail={"dwell_s": 131.5}, zone_id="z1", track_id=7, preset_id="p2"))
        p = await bus.publish(event("pcam", kind="accident.suspected", priority="critical"))
        n = await bus.publish(event("nowhere"))
        assert (d.agency, d.area, d.mode) == ("dishub", "beruang_madu", "enforcement")
        assert (p.agency, p.area, p.mode) == ("polri", "beller", "education")  # beller is not switched on
        assert (n.agency, n.area, n.mode) == ("pemkot", None, "education")
        # the same id again stores nothing new
        again = await bus.publish(event("dcam", id=d.id, detail={"other": 1}))
        assert again == d

        admin = await headers("boss", "admin", "pemkot")
        r = await client.get("/api/events", headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [e["id"] for e in body["events"]] == [n.id, p.id, d.id]  # newest first
        one = body["events"][2]
        assert one["detail"] == {"dwell_s": 131.5} and one["zone"] == "z1" and one["track"] == 7
        assert one["preset"] == "p2" and one["wall_time"] == "2026-01-05T08:00:00Z" and one["ack"] is None
        assert (await client.get(f"/api/events/{p.id}", headers=admin)).json()["priority"] == "critical"

        with pytest.raises(UnknownCamera, match="ghost"):
            await bus.publish(event("ghost"))


async def test_filters_pages_and_bad_queries(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        ids = []
        for n in range(7):
            e = await bus.publish(event("dcam" if n % 2 else "pcam", kind="crime.loitering" if n == 3 else "parking.violation",
                                        n=n, zone_id=f"z{n % 3}"))
            ids.append(e.id)
        h = await headers("boss", "admin", "pemkot")

        async def got(query: str) -> list[str]:
            r = await client.get("/api/events?" + query, headers=h)
            assert r.status_code == 200, r.text
            return [e["id"] for e in r.json()["events"]]

        assert await got("camera=dcam") == [ids[5], ids[3], ids[1]]
        assert await got("kind=crime.loitering") == [ids[3]]
        assert await got("zone=z0") == [ids[6], ids[3], ids[0]]
        assert await got("area=beller") == [ids[6], ids[4], ids[2], ids[0]]
        assert await got("camera=dcam,pcam&zone=z1") == [ids[4], ids[1]]
        assert await got("since=2026-01-05T08:00:02Z&until=2026-01-05T16:00:05%2B08:00") == [ids[4], ids[3], ids[2]]
        assert await got("acknowledged=false") == ids[::-1]
        assert await got("acknowledged=true") == []

        # pages follow next_cursor to the end, nothing twice
        seen, cursor = [], None
        while True:
            r = (await client.get("/api/events?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=h)).json()
            seen += [e["id"] for e in r["events"]]
            cursor = r["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1]

        for query, reason in [
            ("since=yesterday", "since: not an ISO 8601 time"),
            ("since=2026-01-05T08:00:00", "since: give the time zone"),
            ("until=2026-01-01T00:00:00Z&since=2026-02-01T00:00:00Z", "until: earlier than since"),
            ("acknowledged=perhaps", "acknowledged: expected true or false"),
            ("limit=0", "limit: 0 is outside 1..200"),
            ("limit=ten", "limit: expected a whole number"),
            ("cursor=-4", "cursor: expected a whole number"),
            ("camera=../etc", "camera: not a valid camera"),
            ("kind=Parking Violation", "kind: not a valid kind"),
            ("color=red", "color: unknown parameter"),
        ]:
            r = await client.get("/api/events?" + query, headers=h)
            assert r.status_code == 400, (query, r.text)
            assert r.json()["error"].startswith(reason), (query, r.json())
        assert (await client.get("/api/events/0123456789abcdef", headers=h)).status_code == 404
        assert (await client.get("/api/events/not-an-id", headers=h)).status_code == 404


async def test_each_agency_sees_the_events_of_the_cameras_it_may_watch(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        d = await bus.publish(event("dcam"))
        p = await bus.publish(event("pcam"))
        n = await bus.publish(event("nowhere"))
        dishub = await headers("dop", "operator", "dishub")  # the test deployment: dishub watches dishub, pemkot
        polri = await headers("pof", "officer", "polri")  # polri watches dishub, polri, pemkot
        seen_dishub = [e["id"] for e in (await client.get("/api/events", headers=dishub)).json()["events"]]
        seen_polri = [e["id"] for e in (await client.get("/api/events", headers=polri)).json()["events"]]
        assert seen_dishub == [n.id, d.id]
        assert seen_polri == [n.id, p.id, d.id]
        # an invisible event is as unknown as a missing one, for reading and acknowledging alike
        assert (await client.get(f"/api/events/{p.id}", headers=dishub)).status_code == 404
        assert (await client.post(f"/api/events/{p.id}/ack", headers=dishub)).status_code == 404
        assert (await client.get("/api/events?camera=pcam", headers=dishub)).json()["events"] == []


async def test_acknowledge_once_with_who_and_when_audited(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        e = await bus.publish(event("dcam", kind="accident.suspected", priority="high"))
        viewer = await headers("dview", "viewer", "dishub")
        op = await headers("dop", "operator", "dishub")
        op2 = await headers("dop2", "operator", "dishub")

        r = await client.post(f"/api/events/{e.id}/ack", headers=viewer)
        assert r.status_code == 403 and "operator" in r.json()["error"]
        for body, reason in [("[1]", "body: expected a JSON object"), ('{"note": 5}', "note: expected a string"),
                             ('{"who": "x"}', "who: unknown key"), ("{", "body: not valid JSON")]:
            r = await client.post(f"/api/events/{e.id}/ack", headers=op, content=body)
            assert r.status_code == 400 and r.json()["error"].startswith(reason), r.text

        before = datetime.now(timezone.utc)
        r = await client.post(f"/api/events/{e.id}/ack", headers=op, json={"note": "tow truck sent"})
        assert r.status_code == 200, r.text
        ack = r.json()["ack"]
        assert ack["by"] == "dop" and ack["note"] == "tow truck sent" and ack["response_s"] >= 0
        assert datetime.fromisoformat(ack["at"].replace("Z", "+00:00")) >= before.replace(microsecond=0)

        # a second acknowledgement (even by another operator at once) is refused with the first one's name
        results = await asyncio.gather(
            client.post(f"/api/events/{e.id}/ack", headers=op2), client.post(f"/api/events/{e.id}/ack", headers=op)
        )
        for r in results:
            assert r.status_code == 409
            assert r.json()["error"].startswith(f"event {e.id} was already acknowledged by dop at ")
        listed = (await client.get("/api/events?acknowledged=true", headers=op)).json()["events"]
        assert [x["id"] for x in listed] == [e.id]

        entries = await audit.entries(action="event.ack")
        assert [(a.actor, a.target) for a in entries] == [("dop", e.id)]
        assert "accident.suspected on dcam; note: tow truck sent" == entries[0].detail


async def test_two_operators_acknowledging_at_once_one_wins(cfg):
    async with running_app(cfg) as (app, client):
        e = await app.state.services.events.publish(event("dcam"))
        hs = [await headers(f"op{i}", "operator", "dishub") for i in range(4)]
        rs = await asyncio.gather(*(client.post(f"/api/events/{e.id}/ack", headers=h) for h in hs))
        assert sorted(r.status_code for r in rs) == [200, 409, 409, 409]
        assert len(await audit.entries(action="event.ack")) == 1


async def test_stream_needs_an_event_stream_client(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("boss", "admin", "pemkot")
        r = await client.get("/api/events/stream", headers={**h, "accept": "application/json"})
        assert r.status_code == 406 and "text/event-stream" in r.json()["error"]
        r = await client.get("/api/events/stream", headers={**h, "accept": "text/event-stream", "last-event-id": "x"})
        assert r.status_code == 400 and r.json()["error"].startswith("Last-Event-ID")
