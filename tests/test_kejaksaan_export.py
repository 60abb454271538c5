"""The Kejaksaan export end to end: violations through the workflow's API to the sink, a batch written
and signed, ``bconnect verify-export`` accepting it, the court's results back, and who sees what.

The real app with its real SQLite database and real evidence files; ``verify-export`` runs as the real
command in a subprocess.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime

import pytest
from support.kejaksaan import KEJAKSAAN_DEPLOYMENT, handed_over, wait_for
from support.violations import headers

from core.auth import audit
from core.config import load_file
from core.testing.app import running_app
from core.cli import main
from core.violations.models import Violation
from plugins.kejaksaan_export import signing
from plugins.kejaksaan_export.casefile import CSV_COLUMNS
from plugins.kejaksaan_export.models import ExportCase
from plugins.kejaksaan_export.verify import verify

API = "/api/kejaksaan_export"


@pytest.fixture
def deployment(make_deployment):
    return make_deployment(KEJAKSAAN_DEPLOYMENT)


async def exported(client, h, name: str) -> dict:
    async def done():
        r = await client.get(f"{API}/exports/{name}", headers=h)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["state"] == "complete" else None

    return await wait_for(done, what=f"batch {name}")


async def test_verified_violations_go_out_in_a_signed_batch_that_verify_export_accepts(deployment, capsys):
    cfg = load_file(deployment.path)
    data_dir = deployment.data_dir
    async with running_app(cfg) as (app, client):
        officer = await headers("pof", "officer", "dishub")
        jaksa = await headers("jaksa", "prosecutor", "kejaksaan")
        with_evidence = await handed_over(app, client, officer, data_dir, with_snapshot=True, n=1)
        by_hand = await handed_over(app, client, officer, data_dir, with_snapshot=False, n=2)
        await wait_for(lambda: _count(2), what="both cases at the sink")
        r = await client.get(f"{API}/cases?state=waiting", headers=jaksa)
        assert sorted(c["violation_id"] for c in r.json()["cases"]) == sorted([with_evidence, by_hand])

        r = await client.post(f"{API}/exports", headers=jaksa)
        assert r.status_code == 202, r.text
        name = r.json()["batch"]["name"]
        assert r.json()["batch"]["cases"] == 2 and 0 <= r.json()["batch"]["progress"] <= 1
        batch = await exported(client, jaksa, name)
        assert batch["progress"] == 1.0 and batch["done"] == 2 and batch["error"] is None
        assert {c["state"] for c in batch["case_list"]} == {"sent"}
        again = await client.post(f"{API}/exports", headers=jaksa)  # nothing waits: no empty batch
        assert again.status_code == 200 and again.json()["batch"] is None

        folder = data_dir / "exports" / "kejaksaan" / name
        assert sorted(p.name for p in folder.parent.iterdir() if not p.name.startswith(".")) == [name]
        r = await client.get(f"{API}/public-key", headers=jaksa)
        assert r.status_code == 200 and r.text.startswith("-----BEGIN PUBLIC KEY-----")
        pub = deployment.path.parent / "kejaksaan-export.pub"
        pub.write_text(r.text)
        assert verify(folder, signing.load_public(pub)) == []
        private, _ = signing.key_paths(data_dir)
        assert private.stat().st_mode & 0o777 == 0o600
        assert "PRIVATE" not in "".join(p.read_text(errors="replace") for p in folder.rglob("*.json"))

        doc = json.loads((folder / "cases.json").read_text())
        assert doc["schema_version"] == 1 and doc["batch"] == name
        case = next(c for c in doc["cases"] if c["violation_id"] == with_evidence)
        assert case["violator"]["plate"] == "KT1001AB" and case["violator"]["name"] is None
        assert (case["violation"]["law"], case["violation"]["pasal"], case["violation"]["ayat"]) == (
            "UU No. 22 Tahun 2009", "287", "3")
        assert case["investigator"] == {"name": "Bripka Andi Saputra", "unit": "PPNS LLAJ Dinas Perhubungan Kota Balikpapan",
                                        "user": "pof", "verified_at": case["investigator"]["verified_at"]}
        assert case["place"]["camera_name"] == "Simpang Beruang Madu" and case["place"]["area_name"] == "Beruang Madu"
        assert case["time"]["utc"] == "2026-01-05T08:00:01Z"
        assert case["time"]["timezone"] == cfg.deployment.deployment.timezone
        local = datetime.fromisoformat(case["time"]["local"])
        assert local == datetime(2026, 1, 5, 8, 0, 1, tzinfo=UTC) and local.utcoffset() is not None
        assert case["seized_items"][0].startswith("rekaman elektronik")
        hearing = date.fromisoformat(case["hearing"]["date"])
        assert hearing.weekday() == 4 and (hearing - date.today()).days >= 3
        snap = next(e for e in case["evidence"] if e["kind"] == "snapshot")
        v = await Violation.get(id=with_evidence)
        assert snap["integrity"] == "ok" and snap["sha256"] == v.snapshot_sha256
        assert hashlib.sha256((folder / snap["file"]).read_bytes()).hexdigest() == v.snapshot_sha256
        clip = next(e for e in case["evidence"] if e["kind"] == "clip")
        assert clip["integrity"] == "ok" and clip["file"].endswith("/clip.mp4")
        assert set(case["missing"]) == {"violator.name", "violator.address", "place.lat", "place.lon"}
        manual = next(c for c in doc["cases"] if c["violation_id"] == by_hand)
        assert "evidence.snapshot" in manual["missing"]
        rows = list(csv.DictReader(io.StringIO((folder / "cases.csv").read_text())))
        assert tuple(rows[0]) == CSV_COLUMNS and sorted(r["plate"] for r in rows) == ["KT1001AB", "KT2002AB"]

        # offline, as the prosecutor: the bconnect command (plugin commands through the hook), the published key
        rc = main(["verify-export", str(folder), "--public-key", str(pub), "--config", str(deployment.path)])
        out = capsys.readouterr().out
        assert rc == 0 and f"{name}, 2 case(s)" in out, out
        (folder / "cases.csv").write_text("edited\n")
        assert main(["verify-export", str(folder), "--config", str(deployment.path)]) == 1  # the deployment's own key
        assert "FAIL cases.csv: changed" in capsys.readouterr().out


async def _count(n: int) -> bool:
    return await ExportCase.all().count() == n


async def test_the_courts_results_close_the_cases_and_a_bad_csv_stores_nothing(deployment):
    cfg = load_file(deployment.path)
    async with running_app(cfg) as (app, client):
        officer = await headers("pof", "officer", "dishub")
        jaksa = await headers("jaksa", "prosecutor", "kejaksaan")
        ids = [await handed_over(app, client, officer, deployment.data_dir, with_snapshot=False, n=i) for i in range(3)]
        await wait_for(lambda: _count(3), what="three cases")
        early = await client.post(f"{API}/cases/{ids[0]}/result", headers=jaksa, json={
            "fine": 99000, "court_fee": 1000, "subsidiary_days": 2, "decided_on": "2026-01-09"})
        assert early.status_code == 409 and "not been sent to the court" in early.json()["error"]
        # the daily batch: the job the plugin handed the scheduler, run now
        host = app.state.services.plugins
        [job] = [j for p, j in host.registered["bconnect_register_jobs"] if p == "kejaksaan_export"]
        assert job.cron == "0 6 * * *"
        await job.func()
        [batch] = (await client.get(f"{API}/exports", headers=jaksa)).json()["exports"]
        assert (batch["state"], batch["trigger"], batch["cases"]) == ("complete", "scheduled", 3)

        # one case by hand: the decision, then its payment, closes it
        r = await client.post(f"{API}/cases/{ids[0]}/result", headers=jaksa, json={
            "fine": 99000, "court_fee": 1000, "subsidiary_days": 2, "decided_on": "2026-01-09"})
        assert r.status_code == 200 and r.json()["state"] == "decided", r.text
        bad = await client.post(f"{API}/cases/{ids[0]}/result", headers=jaksa, json={
            "fine": 99000, "court_fee": 1000, "subsidiary_days": 2, "decided_on": "2026-01-09",
            "paid_amount": 90000, "paid_on": "2026-01-10"})
        assert bad.status_code == 400 and "not the fine plus the court fee (100000)" in bad.json()["error"]
        r = await client.post(f"{API}/cases/{ids[0]}/result", headers=jaksa, json={
            "fine": 99000, "court_fee": 1000, "subsidiary_days": 2, "decided_on": "2026-01-09",
            "paid_amount": 100000, "paid_on": "2026-01-10", "ntpn": "0A1B2C3D4E5F6G7H", "channel": "BRIVA"})
        assert r.status_code == 200 and r.json()["state"] == "closed", r.text
        v = await Violation.get(id=ids[0])
        assert v.state == "closed"
        again = await client.post(f"{API}/cases/{ids[0]}/result", headers=jaksa, json={
            "fine": 1, "court_fee": 1, "subsidiary_days": 0, "decided_on": "2026-01-09"})
        assert again.status_code == 409

        # a CSV with a bad row: the line named, nothing stored
        header = "violation_id,fine,court_fee,subsidiary_days,decided_on,paid_amount,paid_on,ntpn,confinement_served\n"
        bad_csv = (header + f"{ids[1]},199000,1000,3,2026-01-09,200000,2026-01-11,NTPN1,\n"
                   f"{ids[2]},abc,1000,3,2026-01-09,,,,\n")
        r = await client.post(f"{API}/results", headers={**jaksa, "Content-Type": "text/csv"}, content=bad_csv)
        assert r.status_code == 400 and "line 3: fine: expected a whole number" in r.json()["error"], r.text
        assert not await ExportCase.filter(violation_id=ids[1]).exclude(decided_on=None).exists()
        good_csv = (header + f"{ids[1]},199000,1000,3,2026-01-09,200000,2026-01-11,NTPN1,\n"
                    f"{ids[2]},199000,1000,3,2026-01-09,,,,ya\n")
        r = await client.post(f"{API}/results", headers={**jaksa, "Content-Type": "text/csv"}, content=good_csv)
        assert r.status_code == 200 and r.json() == {"recorded": 2, "closed": 2}, r.text
        assert {v.state for v in await Violation.filter(id__in=ids)} == {"closed"}
        closed = (await client.get(f"{API}/cases?state=closed", headers=jaksa)).json()["cases"]
        assert sorted(c["violation_id"] for c in closed) == sorted(ids)
        recorded = await audit.entries(action="kejaksaan.result")
        assert sorted(int(e.target) for e in recorded) == sorted([ids[0], ids[0], ids[1], ids[2]])
        assert all(e.actor == "jaksa" for e in recorded)
        assert [e.actor for e in await audit.entries(action="kejaksaan.cases.list")] == ["jaksa"]


async def test_the_prosecutors_see_exports_and_cases_but_no_camera(deployment):
    cfg = load_file(deployment.path)
    async with running_app(cfg) as (app, client):
        jaksa = await headers("jaksa", "prosecutor", "kejaksaan")
        reader = await headers("staf", "viewer", "kejaksaan")
        officer = await headers("pof", "officer", "dishub")
        r = await client.get("/api/cameras", headers=jaksa)
        assert r.status_code == 200 and r.json() in ([], {"cameras": []}) or r.json().get("cameras") == []
        for path in ("/api/cameras/dcam", "/api/cameras/dcam/snapshot.jpg"):
            assert (await client.get(path, headers=jaksa)).status_code in (403, 404), path
        whep = await client.post("/api/cameras/dcam/whep", headers={**jaksa, "Content-Type": "application/sdp"},
                                 content="v=0\r\n")
        assert whep.status_code in (403, 404), whep.text
        page = await client.get(f"{API}/page", headers=reader)
        assert page.status_code == 200 and "Kejaksaan" in page.text
        assert (await client.get(f"{API}/exports", headers=reader)).status_code == 200
        assert (await client.post(f"{API}/exports", headers=reader)).status_code == 403  # reading only
        assert (await client.post(f"{API}/results", headers={**reader, "Content-Type": "text/csv"},
                                  content="x\n")).status_code == 403
        for path in (f"{API}/exports", f"{API}/cases", f"{API}/public-key", f"{API}/page"):
            assert (await client.get(path, headers=officer)).status_code == 403, path
        assert (await client.get(f"{API}/cases/abc", headers=jaksa)).status_code == 404
        assert (await client.get(f"{API}/exports/../../etc", headers=jaksa)).status_code == 404
