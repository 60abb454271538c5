"""ETLE ticketing: a verified violation of a Polri camera becomes a ticket and a confirmation letter, then a case.

Real app, real SQLite, the real ``polri_etle`` plugin with its demo registry, letters read back with
pypdf. The registry that never answers is a test double: the police registration database cannot be
reached from here, and this one stands for it being down.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader
from support.etle import ETLE_DEPLOYMENT, eventually, plugin_of, ticket_in, to_sinks, verified_event_id
from support.violations import headers

from core.auth import audit
from core.clock import FakeClock
from core.config import load_file
from core.testing.app import running_app
from core.violations.models import Violation
from plugins.polri_etle.models import BlockRequest, Ticket, TicketTransition
from plugins.polri_etle.registry import DemoRegistry


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(ETLE_DEPLOYMENT).path)


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text, sum(len(page.images) for page in reader.pages)


class SilentRegistry:
    """Test double for a registry that is down: it never answers (the caller's timeout gives up)."""

    name = "silent"

    async def lookup(self, plate):
        await asyncio.sleep(3600)


async def waited(v: Violation, timeout: float = 10.0) -> Ticket:
    """The violation's ticket once its first owner lookup is over."""
    async def check():
        return await Ticket.get_or_none(violation_id=v.id, lookup_attempts__gte=1)

    return await eventually(check, timeout, what=f"first lookup for violation {v.id}")


def at(iso: str) -> FakeClock:
    return FakeClock(wall=datetime.fromisoformat(iso).timestamp())


async def test_a_verified_violation_gets_one_ticket_and_a_letter_that_says_what_the_law_asks(cfg):
    async with running_app(cfg) as (app, client):
        plugin_of(app).desk.clock = at("2026-01-05T10:00:00+00:00")
        h = await headers("pol", "officer", "polri")
        v = await to_sinks(app, client, h)
        assert v.state == "handed_to_sink"
        t = await ticket_in(v.id, "issued")
        assert t.reference == f"ETLE-BPN-20260105-{v.id:06d}"
        letter = app.state.services.data_dir / t.letter_path
        text, images = pdf_text(letter.read_bytes())
        flat = " ".join(text.split())
        for expected in (t.reference, "KT 1234 AB", "Toyota", "Avanza 1.3 G", "Hitam", "Budi Contoh (DEMO)",
                         "Senin, 5 Januari 2026 pukul 17:00:00 WITA", "ETLE Simpang Beruang Madu 1, kawasan Beruang Madu",
                         "Pasal 287 ayat (3)", "Rp250.000", "Selasa, 13 Januari 2026", "H+8", "bukan kendaraan saya",
                         v.snapshot_sha256):
            assert expected in flat, expected
        assert images == 1  # the photo evidence

        # the same event offered again (the outbox delivers at least once): still one ticket, one letter
        stored = await app.state.services.events.get(verified_event_id(v.id))
        await plugin_of(app).sink.deliver(stored.event)
        await plugin_of(app).sink.deliver(stored.event)
        assert await Ticket.filter(violation_id=v.id).count() == 1
        assert sorted(p.name for p in letter.parent.iterdir()) == [f"{t.reference}.pdf"]

        r = await client.get(f"/api/polri_etle/tickets/{t.id}/letter", headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content == letter.read_bytes()
        body = (await client.get(f"/api/polri_etle/tickets/{t.id}", headers=h)).json()
        assert body["owner"]["name"] == "Budi Contoh (DEMO)" and body["confirm_by"] == "2026-01-13T15:59:59Z"
        assert [a.action for a in await audit.entries(action="etle.letter.view")] == ["etle.letter.view"]
        # another agency's data rule: Dishub's officer does not see Polri's tickets
        dishub = await headers("dis", "officer", "dishub")
        assert (await client.get(f"/api/polri_etle/tickets/{t.id}", headers=dishub)).status_code == 404
        assert (await client.get("/api/polri_etle/tickets", headers=dishub)).json()["tickets"] == []
        viewer = await headers("polviewer", "viewer", "polri")
        assert (await client.get("/api/polri_etle/tickets", headers=viewer)).status_code == 403


async def test_delivery_confirmation_and_payment_are_tracked_and_wrong_moves_are_409(cfg):
    async with running_app(cfg) as (app, client):
        plugin_of(app).desk.clock = at("2026-01-05T10:00:00+00:00")
        h = await headers("pol", "officer", "polri")
        t = await ticket_in((await to_sinks(app, client, h)).id, "issued")
        url = f"/api/polri_etle/tickets/{t.id}"
        r = await client.post(url + "/delivery", json={"status": "sent"}, headers=h)
        assert r.status_code == 409 and "delivery none cannot become sent" in r.json()["error"]
        for status in ("printed", "sent", "returned", "sent"):
            r = await client.post(url + "/delivery", json={"status": status, "note": "pos"}, headers=h)
            assert r.status_code == 200 and r.json()["delivery"] == status
        r = await client.post(url + "/payment", json={"reference": "8888012345"}, headers=h)
        assert r.status_code == 409 and "state issued cannot become paid" in r.json()["error"]
        r = await client.post(url + "/confirm", json={"as": "driver"}, headers=h)
        assert r.status_code == 422 and "driver_name" in r.json()["error"]
        r = await client.post(url + "/confirm", json={"as": "driver", "driver_name": "Rudi Pengemudi", "version": 0},
                              headers=h)
        assert r.status_code == 409 and "changed since you loaded it" in r.json()["error"]
        r = await client.post(url + "/confirm", json={"as": "driver", "driver_name": "Rudi Pengemudi"}, headers=h)
        assert r.status_code == 200 and (r.json()["state"], r.json()["driver_name"]) == ("confirmed", "Rudi Pengemudi")
        assert (await client.post(url + "/dispute", json={"reason": "x"}, headers=h)).status_code == 409
        r = await client.post(url + "/payment", json={"reference": "8888012345"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "paid" and r.json()["violation_closed"] is True
        assert (await Violation.get(id=t.violation_id)).state == "closed"
        moves = [(m.field, m.to_value, m.by) for m in await TicketTransition.filter(ticket_id=t.id).order_by("id")]
        assert moves == [("state", "awaiting_registration", "polri_etle"), ("state", "letter_pending", "polri_etle"),
                         ("state", "issued", "polri_etle"), ("delivery", "printed", "pol"), ("delivery", "sent", "pol"),
                         ("delivery", "returned", "pol"), ("delivery", "sent", "pol"), ("state", "confirmed", "pol"),
                         ("state", "paid", "pol")]
        assert [a.actor for a in await audit.entries(action="etle.state.paid")] == ["pol"]
        assert (await client.post(url + "/payment", json={"reference": "again"}, headers=h)).status_code == 409

        # a dispute, upheld: the case is dismissed and the violation closed
        t2 = await ticket_in((await to_sinks(app, client, h, plate="KT 77 Z")).id, "issued")
        url2 = f"/api/polri_etle/tickets/{t2.id}"
        r = await client.post(url2 + "/dispute", json={"reason": "bukan kendaraan saya: plat palsu"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "disputed"
        r = await client.post(url2 + "/dispute/decision", json={"upheld": True, "note": "plat palsu terbukti"}, headers=h)
        assert r.status_code == 200 and r.json()["state"] == "dismissed"
        assert (await Violation.get(id=t2.violation_id)).state == "closed"
        r = await client.post(url2 + "/delivery", json={"status": "bogus"}, headers=h)
        assert r.status_code == 422


async def test_a_registry_miss_or_timeout_leaves_the_case_waiting_with_the_reason_then_it_goes_on(cfg, tmp_path):
    async with running_app(cfg) as (app, client):
        desk = plugin_of(app).desk
        desk.clock = at("2026-01-05T10:00:00+00:00")
        h = await headers("pol", "officer", "polri")
        missing = await waited(await to_sinks(app, client, h, plate="KT 5555 XY"))
        assert missing.state == "awaiting_registration"
        assert missing.waiting_reason == "plate KT 5555 XY not found in the demo registry"
        desk.registry = SilentRegistry()
        slow = await waited(await to_sinks(app, client, h, plate="KT 77 Z"), timeout=15)
        assert slow.state == "awaiting_registration"
        assert slow.waiting_reason == "registry lookup timed out after 0.5 s (silent registry)"
        listed = (await client.get("/api/polri_etle/tickets?state=awaiting_registration", headers=h)).json()["tickets"]
        assert {x["waiting_reason"] for x in listed} == {missing.waiting_reason, slow.waiting_reason}
        assert (await client.get(f"/api/polri_etle/tickets/{slow.id}/letter", headers=h)).status_code == 404

        # the registry is back, and the missing plate was registered meanwhile: the job picks both up when due
        extra = tmp_path / "registry.toml"
        extra.write_text(DemoRegistry().path.read_text(encoding="utf-8") + """
[[vehicles]]
plate = "KT 5555 XY"
owner_name = "Dewi Baru (DEMO)"
owner_address = "Jl. Tambahan 5 (DEMO)"
make = "Suzuki"
vehicle_type = "Ertiga"
colour = "Merah"
""")
        desk.registry = DemoRegistry(extra)
        await plugin_of(app)._tick()
        assert (await Ticket.get(id=missing.id)).state == "awaiting_registration"  # not due yet: retry_s = 60
        desk.clock.advance(61)
        await plugin_of(app)._tick()
        assert {t.state for t in await Ticket.filter(id__in=[missing.id, slow.id])} == {"issued"}
        assert (await Ticket.get(id=missing.id)).lookup_attempts == 1 and (await Ticket.get(id=missing.id)).make == "Suzuki"


async def test_h8_and_h15_raise_one_block_request_each_across_a_clock_jump_and_payment_lifts_it(cfg):
    async with running_app(cfg) as (app, client):
        plugin = plugin_of(app)
        clock = at("2026-01-05T10:00:00+00:00")
        plugin.desk.clock = clock
        h = await headers("pol", "officer", "polri")
        silent = await ticket_in((await to_sinks(app, client, h)).id, "issued")
        slow_payer = await ticket_in((await to_sinks(app, client, h, plate="KT 77 Z")).id, "issued")
        r = await client.post(f"/api/polri_etle/tickets/{slow_payer.id}/confirm", json={"as": "owner"}, headers=h)
        assert r.status_code == 200
        await plugin._tick()
        assert await BlockRequest.all().count() == 0
        clock.advance(timedelta(days=8, hours=6).total_seconds())  # 2026-01-13 16:00 UTC: past H+8 (15:59:59 UTC)
        await plugin._tick()
        await plugin._tick()  # the job again: nothing new
        blocks = (await client.get("/api/polri_etle/blocks?active=true", headers=h)).json()["blocks"]
        assert [(b["reference"], b["reason"][:20]) for b in blocks] == [(silent.reference, "unconfirmed at H+8 (")]
        clock.advance(timedelta(days=30).total_seconds())  # one jump across H+15 as well
        await asyncio.gather(plugin._tick(), plugin._tick())
        blocks = (await client.get("/api/polri_etle/blocks", headers=h)).json()["blocks"]
        assert sorted((b["reference"], b["reason"][:16]) for b in blocks) == sorted(
            [(silent.reference, "unconfirmed at H"), (slow_payer.reference, "unpaid at H+15 (")])
        assert await BlockRequest.filter(ticket_id=silent.id).count() == 1
        r = await client.post(f"/api/polri_etle/tickets/{slow_payer.id}/payment", json={"reference": "NTPN-1"}, headers=h)
        assert r.status_code == 200 and r.json()["block"]["active"] is False and r.json()["block"]["lifted_by"] == "pol"
        assert [b["reference"] for b in (await client.get("/api/polri_etle/blocks?active=true", headers=h)).json()["blocks"]] == [silent.reference]
        assert [a.target for a in await audit.entries(action="etle.block.request")] == [slow_payer.reference, silent.reference]
        # the silent owner disputes late and is right: the case is dismissed, its block lifted
        url = f"/api/polri_etle/tickets/{silent.id}"
        assert (await client.post(url + "/dispute", json={"reason": "kendaraan sudah dijual"}, headers=h)).status_code == 200
        r = await client.post(url + "/dispute/decision", json={"upheld": True, "note": "bukti jual beli"}, headers=h)
        assert r.status_code == 200 and r.json()["block"]["active"] is False
        assert (await client.get("/api/polri_etle/blocks?active=true", headers=h)).json()["blocks"] == []


async def test_education_mode_and_other_agencies_get_no_letter(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pof", "officer", "pemkot")  # pemkot reads every agency's data in the test deployment
        warned = await to_sinks(app, client, h, camera="polri-cctv-02")  # Polri's camera in beller: education
        assert warned.state == "warned"
        dishub = await to_sinks(app, client, h, camera="dcam")  # Dishub's camera in an enforcement area
        assert dishub.state == "handed_to_sink"
        polri = await to_sinks(app, client, h)  # then one that does get a letter: the sink has seen the two before
        await ticket_in(polri.id, "issued")
        assert [t.violation_id for t in await Ticket.all()] == [polri.id]


async def test_a_mobile_unit_letter_prints_the_gps_position_at_the_moment_of_capture(cfg):
    async with running_app(cfg) as (app, client):
        h = await headers("pol", "officer", "polri")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for lat, lon, ago in ((-1.24001, 116.87001, 40), (-1.25002, 116.86002, 5)):  # where it was, then where it went
            r = await client.post("/api/polri_etle/units/patroli-1/fix", headers=h,
                                  json={"lat": lat, "lon": lon, "time": (now - timedelta(seconds=ago)).isoformat()})
            assert r.status_code == 200, r.text
        v = await to_sinks(app, client, h, camera="polri-mobile-1", when=now - timedelta(seconds=38))
        t = await ticket_in(v.id, "issued")
        assert (t.position_source, t.gps_unit, t.lat, t.lon) == ("gps", "patroli-1", -1.24001, 116.87001)
        text, _ = pdf_text((app.state.services.data_dir / t.letter_path).read_bytes())
        assert "-1.24001, 116.87001 (GPS unit patroli-1" in " ".join(text.split())


async def test_personal_data_of_an_ended_case_is_erased_after_the_retention_days_and_an_open_case_keeps_it(cfg):
    async with running_app(cfg) as (app, client):
        plugin = plugin_of(app)
        clock = at("2026-01-05T10:00:00+00:00")
        plugin.desk.clock = clock
        h = await headers("pol", "officer", "polri")
        paid = await ticket_in((await to_sinks(app, client, h)).id, "issued")
        still_open = await ticket_in((await to_sinks(app, client, h, plate="KT 77 Z")).id, "issued")
        url = f"/api/polri_etle/tickets/{paid.id}"
        r = await client.post(url + "/confirm", json={"as": "driver", "driver_name": "Rudi Pengemudi"}, headers=h)
        assert r.status_code == 200
        assert (await client.post(url + "/payment", json={"reference": "8888012345"}, headers=h)).status_code == 200
        letter = plugin.desk.data_dir / paid.letter_path
        assert letter.is_file() and paid.owner_name

        clock.advance(timedelta(days=364).total_seconds())  # not yet: 365 days by default
        assert await plugin.desk.erase_ended() == 0 and letter.is_file()
        clock.advance(timedelta(days=2).total_seconds())
        assert await plugin.desk.erase_ended() == 1
        assert await plugin.desk.erase_ended() == 0  # once

        t = await Ticket.get(id=paid.id)
        assert (t.owner_name, t.owner_address, t.driver_name, t.letter_path) == (None, None, None, None)
        assert not letter.exists() and t.letter_sha256 == paid.letter_sha256  # the record still proves what was sent
        body = (await client.get(url, headers=h)).json()
        assert body["owner"] is None and body["erased_at"].startswith("2027-01-06") and body["plate"] == "KT1234AB"
        r = await client.get(url + "/letter", headers=h)
        assert r.status_code == 410 and "erased on 2027-01-06 under the retention rule" in r.json()["error"]
        (entry,) = await audit.entries(action="etle.personal_data.erase")
        assert entry.target == paid.reference and "365 days after the case ended (paid)" in entry.detail

        kept = await Ticket.get(id=still_open.id)  # issued, never paid: the case is open
        assert kept.erased_at is None and kept.owner_name and (plugin.desk.data_dir / kept.letter_path).is_file()
