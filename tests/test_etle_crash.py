"""ETLE letters after a crash or a disk that refuses them: each letter exists exactly once, complete.

A kill -9 at an exact line of a letter run cannot be aimed from a test; instead the test leaves the data
folder and the database in the states such a crash leaves (a torn temporary file; a letter renamed into
place while the ticket still says ``letter_pending``) and starts the real app again on them.
"""

from __future__ import annotations

import hashlib
import io
import signal
import time

import httpx
import pytest
from pypdf import PdfReader
from support.api_users import make_tokens
from support.etle import ETLE_DEPLOYMENT, eventually, plugin_of, to_sinks
from support.violations import headers

from core.clock import FakeClock
from core.config import ConfigErrors, load_file
from core.plugin_host import load_plugins
from core.testing.app import running_app
from plugins.polri_etle.models import Ticket


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(ETLE_DEPLOYMENT).path)


async def test_a_refused_letter_waits_and_a_letter_run_cut_short_finishes_once_at_the_next_start(cfg):
    async with running_app(cfg) as (app, client):
        plugin_of(app).desk.clock = FakeClock(wall=1_767_607_200.0)  # 2026-01-05T10:00Z
        letters = app.state.services.data_dir / "etle" / "letters"
        letters.parent.mkdir(parents=True, exist_ok=True)
        letters.write_text("not a folder")  # the disk refuses: the letters cannot be written
        h = await headers("pol", "officer", "polri")
        made = [await to_sinks(app, client, h, plate=p) for p in ("KT 1234 AB", "KT 77 Z")]

        async def waiting():
            tickets = await Ticket.filter(violation_id__in=[v.id for v in made]).order_by("id")
            return tickets if len(tickets) == 2 and all(t.waiting_reason.startswith("letter not written") for t in tickets) else None

        torn, renamed = await eventually(waiting, what="tickets waiting for their letters")
        assert {torn.state, renamed.state} == {"letter_pending"}
        body = (await client.get(f"/api/polri_etle/tickets/{torn.id}", headers=h)).json()
        assert body["waiting_reason"].startswith("letter not written: FileExistsError")
    # the process died in two letter runs: one mid-write, one after the rename but before the database said so
    letters.unlink()
    letters.mkdir()
    (letters / f".{torn.reference}.pdf.4242.tmp").write_bytes(b"%PDF-1.3 torn")
    (letters / f"{renamed.reference}.pdf").write_bytes(b"%PDF-1.3 a complete letter of the run that died")
    async with running_app(cfg) as (app, client):
        for t in (torn, renamed):
            t = await Ticket.get(id=t.id)
            assert (t.state, t.waiting_reason) == ("issued", "")
            text = PdfReader(io.BytesIO((letters / f"{t.reference}.pdf").read_bytes())).pages[0].extract_text()
            assert t.reference in text
        assert sorted(p.name for p in letters.iterdir()) == sorted(f"{t.reference}.pdf" for t in (torn, renamed))
    async with running_app(cfg) as (app, client):  # and a third start does nothing again
        assert sorted(p.name for p in letters.iterdir()) == sorted(f"{t.reference}.pdf" for t in (torn, renamed))
        assert await Ticket.filter(state="issued").count() == 2


def test_a_missing_font_stops_the_start_with_its_path_not_the_first_letter(make_deployment, tmp_path):
    dep = make_deployment(ETLE_DEPLOYMENT + f'font_dir = "{tmp_path.as_posix()}"\n')
    with pytest.raises(ConfigErrors) as refused:
        load_plugins(load_file(dep.path))  # what serve and check-config do before anything starts
    assert f"font {tmp_path / 'DejaVuSans.ttf'} not found" in str(refused.value)
    assert "[plugins.polri_etle.ticketing]" in str(refused.value)


N = 8
PLATES = ("KT 1234 AB", "KT 77 Z", "KT 1999 K", "KT 4321 L")  # the demo registry's


def test_kill_9_in_a_letter_run_leaves_each_letter_exactly_once_after_the_restart(make_deployment, start_server):
    """A real ``bconnect serve``: an officer hands violations of an ETLE camera to the sinks one after another,
    the server is killed with SIGKILL as soon as letters are being written, a second server on the same data
    finishes every case handed over, once."""
    d = make_deployment(ETLE_DEPLOYMENT)
    token = make_tokens(d.path, [("pol", "officer", "polri")])["pol"]
    h = {"Authorization": f"Bearer {token}"}
    server = start_server(d)
    handed = []
    with httpx.Client(base_url=server.url, headers=h, timeout=20) as client:
        ids = []
        for n in range(N):
            r = client.post("/api/violations", json={"camera": "etle-bm-1", "kind": "parking.violation",
                                                     "plate": PLATES[n % len(PLATES)], "plate_confidence": 0.95,
                                                     "wall_time": f"2026-01-05T09:{n:02d}:00Z"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
            assert client.post(f"/api/violations/{ids[-1]}/verify", json={}).status_code == 200
        for vid in ids:  # kill as soon as a letter is recorded, while the next ones are under way
            assert client.post(f"/api/violations/{vid}/action", json={}).status_code == 200
            handed.append(vid)
            if client.get("/api/polri_etle/tickets?state=issued").json()["tickets"]:
                break
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    print(f"killed after {len(handed)} of {N} hand-overs")

    again = start_server(d)
    letters = d.data_dir / "etle" / "letters"
    with httpx.Client(base_url=again.url, headers=h, timeout=20) as client:
        deadline = time.monotonic() + 60
        while True:
            tickets = client.get("/api/polri_etle/tickets?limit=200").json()["tickets"]
            if len(tickets) >= len(handed) and {t["state"] for t in tickets} == {"issued"} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert sorted(t["violation"] for t in tickets) == sorted(handed)
        assert {t["state"] for t in tickets} == {"issued"}, [(t["reference"], t["state"], t["waiting_reason"]) for t in tickets]
        for t in tickets:
            pdf = client.get(t["letter"]["url"])
            assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == t["letter"]["sha256"]
            assert t["reference"] in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert sorted(p.name for p in letters.iterdir()) == sorted(f"{t['reference']}.pdf" for t in tickets)
