"""The violation workflow over HTTP: from an event or by hand, reviewed, escalated by the ladder, handed to the sinks.

The real app with its real SQLite database; the sinks are real sinks a test plugin registers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.events import RecordingSink, SinksPlugin, event, wait_until
from support.postgres import postgres_url  # noqa: F401  (fixture)
from support.violations import DEPLOYMENT, create, headers

from core.auth import audit
from core.testing.app import running_app
from core.config import load_file
from core.plugin_host import PROVIDES_HOOKS, load_plugins
from core.violations.models import Violation, ViolationTransition


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(DEPLOYMENT).path)


def host_with(cfg, *plugins):
    """The deployment's plugins and the test's; registrations collected again, as the host does while built."""
    host = load_plugins(cfg)
    for i, plugin in enumerate(plugins):
        host.pm.register(plugin, name=f"test_plugin_{i}")
    host.registered = {hook: host.collect(hook) for hook in PROVIDES_HOOKS.values()}
    return host


async def violation_of(event_id: str) -> Violation:
    found: list[Violation] = []

    async def look() -> bool:
        row = await Violation.get_or_none(event_id=event_id)
        if row is not None:
            found.append(row)
        return row is not None

    deadline = asyncio.get_running_loop().time() + 10
    while not await look():
        assert asyncio.get_running_loop().time() < deadline, f"no violation for event {event_id}"
        await asyncio.sleep(0.05)
    return found[0]


async def test_a_violation_event_becomes_one_violation_awaiting_review(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        e = await bus.publish(event("dcam", detail={"plate": "kt 1234 ab", "plate_confidence": 0.93, "class": "car"},
                                    zone_id="z1"))
        other = await bus.publish(event("dcam", kind="crime.loitering", n=1))  # no legal mapping: not a violation
        v = await violation_of(e.id)
        await bus.publish(event("dcam", id=e.id))  # the same event again
        await asyncio.sleep(0.3)
        assert await Violation.filter(event_id=e.id).count() == 1
        assert not await Violation.filter(event_id=other.id).exists()

        h = await headers("pof", "officer", "pemkot")
        r = await client.get(f"/api/violations/{v.id}", headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "awaiting_review" and body["mode"] == "enforcement" and body["area"] == "beruang_madu"
        assert body["plate"] == {"text": "KT1234AB", "confidence": 0.93, "source": "ocr", "problem": None,
                                 "confirmed_by": None, "blocker": None}
        assert body["vehicle_class"] == "car" and body["zone"] == "z1" and body["event"] == e.id
        assert body["legal"]["pasal"] == "287" and body["legal"]["ayat"] == "3" and body["legal"]["max_fine"] == 250000
        assert [(t["from"], t["to"], t["by"]) for t in body["transitions"]] == [
            (None, "detected", "system"), ("detected", "awaiting_review", "system")]
        assert body["allowed"] == ["verified", "rejected"]
        views = await audit.entries(action="violation.view")
        assert [(a.actor, a.target) for a in views] == [("pof", str(v.id))]


async def test_verified_violations_climb_the_ladder_and_reach_the_sinks(cfg):
    sink = RecordingSink("ticketing")
    async with running_app(cfg, host=host_with(cfg, SinksPlugin(sink))) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        old = await create(client, h, when="2025-11-01T09:00:00Z")  # outside the 30-day window of the next ones
        steps = []
        for v in [old] + [await create(client, h, plate="kt-1234-ab", when=f"2026-01-0{d}T09:00:00Z") for d in range(1, 6)]:
            r = await client.post(f"/api/violations/{v['id']}/verify", json={"officer_name": "Bripka Andi", "version": 0},
                                  headers=h)
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "verified"
            r = await client.post(f"/api/violations/{v['id']}/action", json={"note": "done"}, headers=h)
            assert r.status_code == 200, r.text
            after = r.json()
            assert after["state"] == "handed_to_sink", after
            steps.append((after["ladder_step"], after["offence_count"]))
        assert steps == [("teguran", 0), ("teguran", 0), ("stiker", 1), ("kempes_ban", 2), ("derek", 3), ("derek", 4)]

        await wait_until(lambda: len(sink.got) >= 6, what="violation.verified events at the sink")
        handed = [e for e in sink.got if e.kind == "violation.verified"]
        assert len(handed) == 6 and {e.mode for e in handed} == {"enforcement"}
        assert handed[-1].detail["plate"] == "KT1234AB" and handed[-1].detail["ladder_step"] == "derek"
        assert handed[-1].detail["legal"]["pasal"] == "287" and handed[-1].detail["officer_name"] == "Bripka Andi"

        last = steps and after["id"]
        r = await client.post(f"/api/violations/{last}/close", json={"note": "paid"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "closed", r.text
        moves = [(t.from_state, t.to_state, t.by) for t in await ViolationTransition.filter(violation_id=last)]
        assert moves == [(None, "detected", "pof"), ("detected", "awaiting_review", "system"),
                         ("awaiting_review", "verified", "pof"), ("verified", "action_taken", "pof"),
                         ("action_taken", "handed_to_sink", "system"), ("handed_to_sink", "closed", "pof")]
        logged = [(a.action, a.actor) for a in await audit.entries(limit=1000) if a.target == str(last)]
        for move in ("violation.create", "violation.awaiting_review", "violation.verified", "violation.action_taken",
                     "violation.handed_to_sink", "violation.closed"):
            assert move in [a for a, _ in logged], move


async def test_an_education_area_only_warns_and_says_so_to_the_sinks(cfg):
    sink = RecordingSink("ticketing")
    async with running_app(cfg, host=host_with(cfg, SinksPlugin(sink))) as (app, client):
        h = await headers("pol", "officer", "polri")
        v = await create(client, h, camera="pcam")  # beller: not switched on
        assert v["mode"] == "education"
        r = await client.post(f"/api/violations/{v['id']}/verify", json={"officer_name": "Bripka Sari"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "warned" and r.json()["ladder_step"] is None and r.json()["allowed"] == []
        await wait_until(lambda: any(e.kind.startswith("violation.") for e in sink.got), what="the warning event")
        await asyncio.sleep(0.2)
        told = [e for e in sink.got if e.kind.startswith("violation.")]
        assert [(e.kind, e.mode) for e in told] == [("violation.warned", "education")]
        r = await client.post(f"/api/violations/{v['id']}/action", json={}, headers=h)
        assert r.status_code == 409 and "warned" in r.json()["error"]


async def test_invalid_transitions_are_refused_naming_the_state_and_the_allowed_ones(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        v = await create(client, h)
        r = await client.post(f"/api/violations/{v['id']}/action", json={}, headers=h)
        assert r.status_code == 409
        assert r.json()["error"] == ("the violation is awaiting_review; it cannot become action_taken "
                                     "(from awaiting_review: verified, rejected)")
        r = await client.post(f"/api/violations/{v['id']}/reject",
                              json={"reason": "duplicate", "note": "same car as #1", "officer_name": "Andi"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "rejected"
        for path in ("verify", "close", "action"):
            r = await client.post(f"/api/violations/{v['id']}/{path}", json={}, headers=h)
            assert r.status_code == 409 and "none: it is final" in r.json()["error"], r.text
        # a version the officer saw before someone else changed it
        w = await create(client, h)
        r = await client.post(f"/api/violations/{w['id']}/verify", json={"version": 7}, headers=h)
        assert r.status_code == 409 and "changed since you loaded it" in r.json()["error"]


async def test_two_officers_verifying_at_once_exactly_one_wins(cfg):
    async with running_app(cfg) as (app, client):
        a = await headers("ana", "officer", "pemkot")
        b = await headers("budi", "officer", "pemkot")
        for _ in range(3):
            v = await create(client, a)
            answers = await asyncio.gather(*(
                client.post(f"/api/violations/{v['id']}/{path}", json=body, headers=h)
                for h, path, body in [(a, "verify", {}), (b, "verify", {}), (a, "reject",
                                      {"reason": "duplicate", "note": "x", "officer_name": "Ana"}), (b, "verify", {})]
            ))
            codes = sorted(r.status_code for r in answers)
            assert codes == [200, 409, 409, 409], [r.text for r in answers]
            decided = await ViolationTransition.filter(violation_id=v["id"], from_state="awaiting_review")
            assert len(decided) == 1
            losers = [r.json()["error"] for r in answers if r.status_code == 409]
            assert all("verified" in e or "rejected" in e for e in losers), losers


async def test_a_doubtful_plate_waits_for_an_officer_and_the_edit_is_audited(cfg):
    async with running_app(cfg) as (app, client):
        bus = app.state.services.events
        low = await bus.publish(event("dcam", detail={"plate": "KT 1284 A8", "plate_confidence": 0.41}))
        none = await bus.publish(event("dcam", n=1, detail={}))
        v = await violation_of(low.id)
        w = await violation_of(none.id)
        h = await headers("pof", "officer", "pemkot")
        body = (await client.get(f"/api/violations/{v.id}", headers=h)).json()
        assert "confidence 0.41, below 0.80" in body["plate"]["blocker"]
        r = await client.post(f"/api/violations/{v.id}/verify", json={}, headers=h)
        assert r.status_code == 409 and "an officer must enter or confirm it" in r.json()["error"], r.text
        r = await client.post(f"/api/violations/{w.id}/verify", json={}, headers=h)
        assert r.status_code == 409 and "no plate" in r.json()["error"]

        r = await client.patch(f"/api/violations/{v.id}/plate", json={"plate": "kt 1284 ab", "note": "read from the clip"},
                               headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["plate"]["text"] == "KT1284AB" and r.json()["plate"]["source"] == "manual"
        assert r.json()["plate"]["confirmed_by"] == "pof" and r.json()["plate"]["blocker"] is None
        edits = await audit.entries(action="violation.plate")
        assert len(edits) == 1 and "KT1284A8" in edits[0].detail and "-> KT1284AB" in edits[0].detail
        one = (await client.get(f"/api/violations/{v.id}", headers=h)).json()
        assert [(e["old"], e["new"], e["by"]) for e in one["plate_edits"]] == [("KT1284A8", "KT1284AB", "pof")]
        r = await client.post(f"/api/violations/{v.id}/verify", json={}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "verified"
        r = await client.patch(f"/api/violations/{v.id}/plate", json={"plate": "KT 1 A"}, headers=h)
        assert r.status_code == 409 and "only before it is decided" in r.json()["error"]
        for plate, code in (("", 422), ("---", 422), (12, 400)):
            r = await client.patch(f"/api/violations/{w.id}/plate", json={"plate": plate}, headers=h)
            assert r.status_code == code, (plate, r.text)


class StrictPlates:
    """A plate validator as a plugin registers one: letters, 1-4 digits, letters."""

    name = "strict_test"

    def normalise(self, text: str) -> str:
        return "".join(ch for ch in text.upper() if ch.isalnum())

    def problem(self, plate: str, vehicle_class: str | None) -> str | None:
        import re

        return None if re.fullmatch(r"[A-Z]{1,2}[0-9]{1,4}[A-Z]{0,3}", plate) else "not a plate of this country"


class ValidatorPlugin:
    from core.hookspecs import hookimpl

    @hookimpl
    def bconnect_register_plate_validators(self, register):
        register(StrictPlates())


async def test_a_registered_validator_blocks_an_invalid_plate_until_an_officer_confirms_it(make_deployment):
    cfg = load_file(make_deployment(DEPLOYMENT).path)
    async with running_app(cfg, host=host_with(cfg, ValidatorPlugin())) as (app, client):
        e = await app.state.services.events.publish(event("dcam", detail={"plate": "KT 12345", "plate_confidence": 0.99}))
        v = await violation_of(e.id)
        h = await headers("pof", "officer", "pemkot")
        body = (await client.get(f"/api/violations/{v.id}", headers=h)).json()
        assert body["plate"]["problem"] == "not a plate of this country"
        r = await client.post(f"/api/violations/{v.id}/verify", json={}, headers=h)
        assert r.status_code == 409 and "failed validation (not a plate of this country)" in r.json()["error"]
        r = await client.patch(f"/api/violations/{v.id}/plate", json={"plate": "KT 12345"}, headers=h)
        assert r.status_code == 200 and r.json()["validation"] == "not a plate of this country"
        r = await client.post(f"/api/violations/{v.id}/verify", json={}, headers=h)
        assert r.status_code == 200, r.text


async def test_rejection_needs_a_listed_reason_a_note_and_the_officers_name(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        v = await create(client, h)
        url = f"/api/violations/{v['id']}/reject"
        for body, code, reason in [
            ({"note": "x", "officer_name": "Andi"}, 422, "reason: required"),
            ({"reason": "duplicate", "officer_name": "Andi"}, 422, "note: required"),
            ({"reason": "duplicate", "note": "x"}, 422, "officer_name: required"),
            ({"reason": "friend_of_the_mayor", "note": "x", "officer_name": "Andi"}, 422,
             "reason: 'friend_of_the_mayor' is not one of not_a_violation, plate_unreadable, duplicate"),
            ({"reason": "duplicate", "note": "x", "officer_name": "Andi", "exempt": True}, 400, "exempt: unknown key"),
        ]:
            r = await client.post(url, json=body, headers=h)
            assert r.status_code == code and r.json()["error"].startswith(reason), (body, r.text)
        r = await client.post(url, json={"reason": "plate_unreadable", "note": "glare", "officer_name": "Bripka Andi"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["rejection"] == {"reason": "plate_unreadable", "note": "glare"}
        assert r.json()["officer_name"] == "Bripka Andi" and r.json()["decided_by"] == "pof"
        entry = (await audit.entries(action="violation.rejected"))[0]
        assert entry.actor == "pof" and "plate_unreadable: glare (by Bripka Andi)" in entry.detail


async def test_who_may_read_and_act(cfg):
    async with running_app(cfg) as (app, client):
        admin = await headers("boss", "admin", "pemkot")
        d = await create(client, admin, camera="dcam")
        p = await create(client, admin, camera="pcam")
        dishub_officer = await headers("dof", "officer", "dishub")
        prosecutor = await headers("jaksa", "prosecutor", "polri")
        operator = await headers("op", "operator", "pemkot")
        assert (await client.get(f"/api/violations/{d['id']}", headers=dishub_officer)).status_code == 200
        assert (await client.get(f"/api/violations/{p['id']}", headers=dishub_officer)).status_code == 404  # polri's data
        listed = (await client.get("/api/violations", headers=dishub_officer)).json()["violations"]
        assert [v["id"] for v in listed] == [d["id"]]
        r = await client.post(f"/api/violations/{p['id']}/verify", json={}, headers=dishub_officer)
        assert r.status_code == 404
        assert (await client.get("/api/violations", headers=operator)).status_code == 403
        assert (await client.get(f"/api/violations/{p['id']}", headers=prosecutor)).status_code == 200
        r = await client.post(f"/api/violations/{p['id']}/verify", json={}, headers=prosecutor)
        assert r.status_code == 403
        r = await client.post("/api/violations", json={"camera": "pcam", "kind": "parking.violation",
                                                       "wall_time": "2026-01-05T09:00:00Z"}, headers=dishub_officer)
        assert r.status_code == 422 and "unknown camera" in r.json()["error"]
        listed_by = [a.actor for a in await audit.entries(action="violation.list")]
        assert listed_by == ["dof"]


async def test_the_queue_filters_and_pages(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("boss", "admin", "pemkot")
        made = [await create(client, h, camera=cam, plate=plate, when=when) for cam, plate, when in [
            ("dcam", "KT 1 A", "2026-01-05T09:00:00Z"), ("pcam", "KT 2 B", "2026-01-05T10:00:00Z"),
            ("dcam", "KT 2 B", "2026-01-06T09:00:00Z"), ("nowhere", "KT 3 C", "2026-01-07T09:00:00Z"),
        ]]
        ids = [v["id"] for v in made]
        await client.post(f"/api/violations/{ids[0]}/verify", json={}, headers=h)

        async def got(query: str) -> list[int]:
            r = await client.get("/api/violations?" + query, headers=h)
            assert r.status_code == 200, r.text
            return [v["id"] for v in r.json()["violations"]]

        assert await got("state=awaiting_review") == ids[:0:-1]
        assert await got("state=verified") == [ids[0]]
        assert await got("area=beller") == [ids[1]]
        assert await got("camera=dcam") == [ids[2], ids[0]]
        assert await got("plate=kt%202%20b") == [ids[2], ids[1]]
        assert await got("kind=parking.violation&since=2026-01-05T09:30:00Z&until=2026-01-07T00:00:00Z") == [ids[2], ids[1]]
        seen, cursor = [], None
        while True:
            r = (await client.get("/api/violations?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=h)).json()
            seen += [v["id"] for v in r["violations"]]
            cursor = r["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1]
        first = (await client.get("/api/violations?state=awaiting_review&order=oldest&limit=2", headers=h)).json()
        assert [v["id"] for v in first["violations"]] == ids[1:3]
        rest = await got(f"state=awaiting_review&order=oldest&cursor={first['next_cursor']}")
        assert rest == ids[3:]
        one = (await client.get(f"/api/violations/{ids[2]}", headers=h)).json()
        assert [(o["id"], o["state"]) for o in one["plate_history"]] == [(ids[1], "awaiting_review")]
        for query, reason in [("state=lost", "state: unknown state 'lost'"), ("limit=0", "limit: expected a whole number"),
                              ("since=monday", "since: not an ISO 8601 time"), ("colour=red", "colour: unknown parameter"), ("order=random", "order: newest or oldest"),
                              ("until=2026-01-01T00:00:00Z&since=2026-02-01T00:00:00Z", "until: earlier than since")]:
            r = await client.get("/api/violations?" + query, headers=h)
            assert r.status_code == 400 and r.json()["error"].startswith(reason), (query, r.text)
        assert (await client.get("/api/violations/99999", headers=h)).status_code == 404
        assert (await client.get("/api/violations/abc", headers=h)).status_code == 404


async def test_manual_entry_refuses_bad_input_with_the_reason(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        good = {"camera": "dcam", "kind": "parking.violation", "wall_time": "2026-01-05T09:00:00Z"}
        for change, code, reason in [
            ({"camera": "ghost"}, 422, "camera: unknown camera 'ghost'"),
            ({"kind": "crime.loitering"}, 422, "kind: 'crime.loitering' is not a violation kind (known: parking.violation)"),
            ({"wall_time": "2026-01-05T09:00:00"}, 400, "wall_time: give the time zone"),
            ({"wall_time": None}, 422, "wall_time: required"),
            ({"plate_confidence": 3}, 422, "plate_confidence: expected a number in 0..1"),
            ({"owner_exempt": True}, 400, "owner_exempt: unknown key"),
        ]:
            r = await client.post("/api/violations", json={**good, **change}, headers=h)
            assert r.status_code == code and r.json()["error"].startswith(reason), (change, r.text)
        r = await client.post("/api/violations", content=b"[1,2", headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 400


async def test_the_supervisors_report_rates_rejections_and_flags_a_plate(cfg):
    async with running_app(cfg) as (app, client):
        ana = await headers("ana", "officer", "pemkot")
        budi = await headers("budi", "officer", "pemkot")
        admin = await headers("boss", "admin", "pemkot")

        async def decide(h, plate: str, reject: str | None) -> None:
            v = await create(client, h, plate=plate)
            body = {"reason": reject, "note": "n", "officer_name": "X"} if reject else {}
            r = await client.post(f"/api/violations/{v['id']}/{'reject' if reject else 'verify'}", json=body, headers=h)
            assert r.status_code == 200, r.text

        await decide(ana, "RI 1", "not_a_violation")
        await decide(ana, "RI 1", "plate_unreadable")
        await decide(ana, "KT 5 X", None)
        await decide(budi, "RI 1", None)
        await decide(budi, "KT 5 X", "duplicate")
        assert (await client.get("/api/violations/stats", headers=ana)).status_code == 403
        r = await client.get("/api/violations/stats?since=2020-01-01T00:00:00Z", headers=admin)
        assert r.status_code == 200, r.text
        s = r.json()
        assert s["decided"] == 5 and s["flag_rejections"] == 2
        assert s["officers"] == [{"user": "ana", "decided": 3, "rejected": 2, "rejection_rate": 0.667},
                                 {"user": "budi", "decided": 2, "rejected": 1, "rejection_rate": 0.5}]
        assert sorted((x["reason"], x["rejected"]) for x in s["reasons"]) == [
            ("duplicate", 1), ("not_a_violation", 1), ("plate_unreadable", 1)]
        assert s["plates"] == [
            {"plate": "RI1", "decided": 3, "rejected": 2, "rejection_rate": 0.667, "flagged": True},
            {"plate": "KT5X", "decided": 2, "rejected": 1, "rejection_rate": 0.5, "flagged": False}]
        r = await client.get("/api/violations/stats?who=me", headers=admin)
        assert r.status_code == 400


async def test_a_change_made_on_a_stale_read_loses_to_the_one_that_won(cfg):
    """Both officers' requests read the violation before either writes: the conditional UPDATE decides."""
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")
        made = await create(client, h)
        service = app.state.services.plugins.pm.get_plugin("core.ViolationsPlugin").api.service
        first, second = await Violation.get(id=made["id"]), await Violation.get(id=made["id"])
        results = await asyncio.gather(service.verify(first, "ana", "Ana", ""),
                                       service.reject(second, "budi", "duplicate", "x", "Budi"), return_exceptions=True)
        won = [r for r in results if isinstance(r, Violation)]
        lost = [r for r in results if not isinstance(r, Violation)]
        assert len(won) == 1 and len(lost) == 1, results
        assert "changed meanwhile" in str(lost[0]), lost
        assert (await Violation.get(id=made["id"])).version == 1
        assert await ViolationTransition.filter(violation_id=made["id"], from_state="awaiting_review").count() == 1


PG_PROBE = Path(__file__).resolve().parent / "support" / "violations_pg_probe.py"


@pytest.mark.postgres
def test_one_of_concurrent_decisions_wins_on_postgresql(make_deployment, postgres_url):  # noqa: F811
    """In a fresh process: tortoise keeps per-process state from the SQLite tests that ran before."""
    d = make_deployment(DEPLOYMENT)
    d.path.write_text(d.path.read_text().replace("[server]\n", f'[server]\ndatabase_url = "{postgres_url}"\n', 1))
    root = PG_PROBE.parent.parent.parent
    proc = subprocess.run([sys.executable, str(PG_PROBE), str(d.path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": f"{root}:{root / 'tests'}"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("postgresql: ok")


async def test_an_officer_takes_a_violation_and_an_admin_assigns_one(cfg):
    async with running_app(cfg) as (app, client):
        ana = await headers("ana", "officer", "pemkot")
        admin = await headers("boss", "admin", "pemkot")
        v = await create(client, ana)
        r = await client.post(f"/api/violations/{v['id']}/assign", json={}, headers=ana)
        assert r.status_code == 200 and r.json()["assigned_to"] == "ana", r.text
        r = await client.post(f"/api/violations/{v['id']}/assign", json={"user": "boss"}, headers=ana)
        assert r.status_code == 403
        r = await client.post(f"/api/violations/{v['id']}/assign", json={"user": "ghost"}, headers=admin)
        assert r.status_code == 422 and "no active user named 'ghost'" in r.json()["error"]
        r = await client.post(f"/api/violations/{v['id']}/assign", json={"user": None, "version": 1}, headers=admin)
        assert r.status_code == 200 and r.json()["assigned_to"] is None
        assert [a.detail for a in await audit.entries(action="violation.assign")] == ["ana -> nobody", "nobody -> ana"]


class BrokenPlates(StrictPlates):
    name = "broken_test"

    def problem(self, plate: str, vehicle_class: str | None) -> str | None:
        raise RuntimeError("model file missing")


class BrokenValidatorPlugin:
    from core.hookspecs import hookimpl

    @hookimpl
    def bconnect_register_plate_validators(self, register):
        register(BrokenPlates())


async def test_a_validator_that_fails_is_contained_and_its_plate_waits_for_an_officer(make_deployment):
    cfg = load_file(make_deployment(DEPLOYMENT).path)
    async with running_app(cfg, host=host_with(cfg, BrokenValidatorPlugin())) as (app, client):
        e = await app.state.services.events.publish(event("dcam", detail={"plate": "KT 1 A", "plate_confidence": 0.99}))
        v = await violation_of(e.id)
        assert v.plate == "KT1A" and v.plate_problem == "the plate validator failed (RuntimeError): check the plate"
        state = app.state.services.plugins.states["test_plugin_0"]
        assert state.errors >= 1 and "model file missing" in str(state.last_error)
        h = await headers("pof", "officer", "pemkot")
        r = await client.post(f"/api/violations/{v.id}/verify", json={}, headers=h)
        assert r.status_code == 409 and "the plate validator failed" in r.json()["error"]


async def test_a_browser_decision_with_a_stale_csrf_token_is_refused_and_changes_nothing(cfg):
    from core.testing.app import add_user, session_headers

    async with running_app(cfg) as (app, client):
        officer = await add_user("ana", role="officer", agency="pemkot")
        browser = await session_headers(officer)
        v = await create(client, browser)
        stale = {**browser, "X-CSRF-Token": "0" * 43}
        r = await client.post(f"/api/violations/{v['id']}/verify", json={}, headers=stale)
        assert r.status_code == 403 and "CSRF" in r.json()["error"], r.text
        r = await client.patch(f"/api/violations/{v['id']}/plate", json={"plate": "KT 2 B"}, headers=stale)
        assert r.status_code == 403
        after = await Violation.get(id=v["id"])
        assert (after.state, after.plate, after.version) == ("awaiting_review", "KT1234AB", 0)
        r = await client.post(f"/api/violations/{v['id']}/verify", json={}, headers=browser)
        assert r.status_code == 200, r.text


async def test_out_of_range_numbers_times_and_names_are_refused_with_the_reason(cfg):
    """Each was a 500: '²' passes str.isdigit() but not int(); a user name longer than the column makes the query
    itself fail (schemathesis found it); and a time of year 1 at +08:00 (year 9999 at -08:00) has no UTC (that one
    was a generic 400 that named no key)."""
    async with running_app(cfg) as (app, client):
        h = await headers("boss", "admin", "pemkot")
        v = await create(client, h)
        for url, reason in [
            ("/api/violations?limit=%C2%B2", "limit: expected a whole number"),
            ("/api/violations?cursor=%C2%B2", "cursor: expected a whole number"),
            ("/api/violations?since=0001-01-01T00:00:00%2B08:00", "since: '0001-01-01T00:00:00+08:00' is out of range"),
            ("/api/violations/stats?until=9999-12-31T23:59:59-08:00", "until: '9999-12-31T23:59:59-08:00' is out of range"),
        ]:
            r = await client.get(url, headers=h)
            assert r.status_code == 400 and r.json()["error"].startswith(reason), (url, r.text)
        assert (await client.get("/api/violations/%C2%B2", headers=h)).status_code == 404
        r = await client.post("/api/violations/%C2%B2/verify", json={}, headers=h)
        assert r.status_code == 404 and r.json()["error"] == "unknown violation '²'"
        r = await client.post("/api/violations", headers=h, json={"camera": "dcam", "kind": "parking.violation",
                                                                  "wall_time": "0001-01-01T00:00:00+08:00"})
        assert r.status_code == 400 and r.json()["error"].startswith("wall_time: '0001-01-01T00:00:00+08:00' is out of range")
        r = await client.post(f"/api/violations/{v['id']}/assign", json={"user": "0" * 65}, headers=h)  # schemathesis
        assert r.status_code == 422 and r.json()["error"].startswith("user: no active user named"), r.text
        assert (await client.get(f"/api/violations/{v['id']}", headers=h)).json()["state"] == "awaiting_review"
