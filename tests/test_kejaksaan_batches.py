"""Kejaksaan batches on disk: tampering found offline, kill -9 in the middle of an export, a full or
read-only target.

Cases are put straight into the export's table (the real SQLite database of a deployment), with real
evidence files; the export runs as the real ``bconnect kejaksaan-export`` command in a subprocess where
a crash matters. The full and read-only targets are real tmpfs mounts (skipped where mounting is not
allowed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.kejaksaan import KEJAKSAAN_DEPLOYMENT

from core.config import load_file
from core.storage import CORE_MODELS, close_database, open_database
from core.testing.pytest_plugin import bconnect
from plugins.kejaksaan_export import signing
from plugins.kejaksaan_export.batch import ExportFailed, Exporter
from plugins.kejaksaan_export.config import Config
from plugins.kejaksaan_export.models import MODELS, ExportBatch, ExportCase
from plugins.kejaksaan_export.verify import verify

ROOT = Path(__file__).resolve().parent.parent


def facts(n: int, snapshot: dict | None) -> dict:
    return {
        "violation_id": n, "event_id": f"ev{n:08d}", "kind": "parking.violation", "plate": f"KT{n}AB",
        "vehicle_class": "car", "ladder_step": "stiker", "offence_count": 0, "officer_name": "Bripka Andi",
        "decided_by": "pof", "decided_at": "2026-01-05T09:00:00Z", "camera_id": "dcam",
        "camera_name": "Simpang Beruang Madu", "lat": -1.24, "lon": 116.87, "agency": "dishub",
        "area": "beruang_madu", "area_name": "Beruang Madu", "wall_time": "2026-01-05T08:00:00Z",
        "legal": {"law": "UU No. 22 Tahun 2009", "pasal": "287", "ayat": "3", "max_fine": 250000},
        "snapshot": snapshot, "clip_id": None,
    }


async def seed(data_dir: Path, count: int, size: int = 4096, start: int = 1) -> None:
    """``count`` cases, each with an evidence file of ``size`` bytes of its own."""
    for n in range(start, start + count):
        blob = os.urandom(size)
        sha = hashlib.sha256(blob).hexdigest()
        rel = f"snapshots/{sha[:2]}/{sha}.jpg"
        (data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / rel).write_bytes(blob)
        await ExportCase.create(violation_id=n, event_id=f"ev{n:08d}", agency="dishub",
                                facts=json.dumps(facts(n, {"path": rel, "sha256": sha})), received_at=datetime.now(UTC))


@pytest.fixture
def deployment(make_deployment):
    return make_deployment(KEJAKSAAN_DEPLOYMENT)


@pytest.fixture
async def db(deployment):
    cfg = load_file(deployment.path)
    await open_database(cfg.deployment.database_url(), [CORE_MODELS, MODELS])
    yield cfg
    await close_database()


def exporter(cfg, target: Path | None = None) -> Exporter:
    config = Config.model_validate({**cfg.deployment.plugin_config("kejaksaan_export"),
                                    **({"target": str(target)} if target else {})})
    d = cfg.deployment
    return Exporter(config, d.data_path(), d.deployment.name, d.deployment.timezone)


async def test_tampering_is_named_file_by_file(db, tmp_path):
    data_dir = db.deployment.data_path()
    await seed(data_dir, 3)
    batch = await exporter(db).export("test", "tester")
    folder = exporter(db).target / batch.name
    key = signing.load_or_create(data_dir).public_key()
    assert verify(folder, key) == []
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)

    def fresh() -> Path:
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder)
        return folder

    evidence = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    with open(fresh() / evidence[0], "r+b") as f:  # one byte of a photo
        f.write(b"X")
    assert verify(folder, key) == [f"{evidence[0]}: changed (its SHA-256 differs from the manifest's)"]
    (fresh() / "cases.csv").unlink()
    assert verify(folder, key) == ["cases.csv: missing"]
    (fresh() / "evidence" / "extra.jpg").write_bytes(b"planted")
    assert verify(folder, key) == ["evidence/extra.jpg: added (not in the manifest)"]
    manifest = fresh() / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"cases": 3', '"cases": 2'))
    assert verify(folder, key) == ["bad signature: manifest.json was changed after signing, or manifest.sig is damaged"]
    # a photo swapped and the manifest's hash "fixed" to match: the signature still catches it
    fresh()
    (folder / evidence[1]).write_bytes(b"another photo")
    doc = json.loads(manifest.read_text())
    for f in doc["files"]:
        if f["path"] == evidence[1]:
            f["sha256"] = hashlib.sha256(b"another photo").hexdigest()
    manifest.write_text(json.dumps(doc, indent=2) + "\n")
    assert verify(folder, key) == ["bad signature: manifest.json was changed after signing, or manifest.sig is damaged"]
    fresh()
    (folder / "manifest.sig").unlink()
    assert verify(folder, key) == ["manifest.sig: missing: the manifest is unsigned"]

    fresh()
    other = tmp_path / "other.pub"
    other.write_bytes(signing.public_pem(signing.Ed25519PrivateKey.generate().public_key()))
    wrong = verify(folder, signing.load_public(other))
    assert len(wrong) == 1 and wrong[0].startswith("wrong public key")

    # the prosecutor's command, without any deployment: exit status 1 and the reason, 0 when intact
    run = lambda key_file: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "plugins.kejaksaan_export.verify", str(folder), "--public-key", str(key_file)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    bad = run(other)
    assert bad.returncode == 1 and "FAIL wrong public key" in bad.stdout
    good = run(signing.key_paths(data_dir)[1])
    assert good.returncode == 0 and "ok: batch" in good.stdout, good.stdout + good.stderr


async def test_a_batch_renamed_into_place_before_a_crash_is_accepted_not_rebuilt(db):
    data_dir = db.deployment.data_path()
    await seed(data_dir, 2)
    gone = json.loads((await ExportCase.get(violation_id=2)).facts)["snapshot"]["path"]
    (data_dir / gone).unlink()  # purged by retention before the batch: the case goes out, marked
    batch = await exporter(db).export("test", "tester")
    signed = (exporter(db).target / batch.name / "manifest.json").read_bytes()
    doc = json.loads((exporter(db).target / batch.name / "cases.json").read_text())
    second = next(c for c in doc["cases"] if c["violation_id"] == 2)
    assert second["evidence"][0]["integrity"] == "file_missing" and "evidence.snapshot" in second["missing"]
    # the crash came after the rename, before the database said complete
    await ExportBatch.filter(id=batch.id).update(state="building", completed_at=None)
    again = await exporter(db).export("test", "tester")
    assert again.name == batch.name and again.state == "complete"
    assert (exporter(db).target / batch.name / "manifest.json").read_bytes() == signed
    assert await exporter(db).export("test", "tester") is None  # nothing waits now


async def test_kill_9_in_the_middle_of_an_export_then_running_again_completes_it_exactly_once(db, deployment):
    data_dir = db.deployment.data_path()
    await seed(data_dir, 200, size=64 * 1024)
    await close_database()
    target = exporter(db).target
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "core.cli", "kejaksaan-export", "--config", str(deployment.path), "--quiet"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    written = 0
    deadline = time.monotonic() + 60
    while written < 40:  # the hidden folder holds a good part of the evidence, not all of it
        assert proc.poll() is None, f"the export ended before it was killed: {proc.stdout.read()}"
        assert time.monotonic() < deadline, "the export never got going"
        hidden = [p for p in target.glob(".building-*")] if target.exists() else []
        written = sum(1 for _ in hidden[0].rglob("*.jpg")) if hidden else 0
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert [p.name for p in target.iterdir() if not p.name.startswith(".")] == []  # no partial batch visible
    assert len(list(target.glob(".building-*"))) == 1
    await open_database(db.deployment.database_url(), [CORE_MODELS, MODELS])
    cut = await ExportBatch.get(state="building")
    assert 1 <= cut.done < 200  # the progress the page shows was written while it ran
    await close_database()

    done = bconnect("kejaksaan-export", "--config", str(deployment.path), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "200/200" in done.stderr and "100%" in done.stderr  # the progress bar
    visible = [p for p in target.iterdir() if not p.name.startswith(".")]
    assert len(visible) == 1 and not list(target.glob(".building-*"))
    await open_database(db.deployment.database_url(), [CORE_MODELS, MODELS])
    batches = await ExportBatch.all()
    assert [(b.name, b.state, b.cases) for b in batches] == [(visible[0].name, "complete", 200)]
    assert await ExportCase.filter(batch_id=batches[0].id).count() == 200
    key = signing.load_or_create(data_dir).public_key()
    assert verify(visible[0], key) == []
    doc = json.loads((visible[0] / "cases.json").read_text())
    assert sorted(c["violation_id"] for c in doc["cases"]) == list(range(1, 201))  # each case once


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0


async def test_a_full_or_read_only_target_gives_the_reason_and_loses_nothing(db, tmp_path):
    data_dir = db.deployment.data_path()
    await seed(data_dir, 6, size=32 * 1024)
    full, readonly = tmp_path / "full", tmp_path / "readonly"
    if not _mount(full, "size=96k"):
        pytest.skip("mounting a tmpfs is not allowed here (needs root): the full target cannot be made")
    try:
        with pytest.raises(ExportFailed) as no_space:
            await exporter(db, full).export("test", "tester")
        assert no_space.value.status == 507 and f"export target {full} is full" in str(no_space.value)
        assert not [p for p in full.iterdir() if p.name != ".export.lock"]  # the half-built batch removed
        stuck = await ExportBatch.get(state="building")
        assert "is full" in stuck.error and stuck.cases == 6
        assert _mount(readonly, "ro,size=1m")
        with pytest.raises(ExportFailed) as ro:
            await exporter(db, readonly / "kejaksaan").export("test", "tester")
        assert ro.value.status == 503 and "read-only" in str(ro.value)
    finally:
        subprocess.run(["umount", str(full)], check=False)
        subprocess.run(["umount", str(readonly)], check=False)
    # room again: the same batch, every case, once
    batch = await exporter(db, full).export("test", "tester")
    assert batch.name == stuck.name and batch.cases == 6 and batch.error == ""
    assert verify(full / batch.name, signing.load_or_create(data_dir).public_key()) == []
    assert await ExportCase.filter(batch_id=batch.id).count() == 6


async def test_the_sink_keeps_the_contract_and_makes_one_case_per_verified_violation(db):
    from core.testing.sinks import check_sink, sample_event
    from plugins.kejaksaan_export.sink import CaseSink

    config = Config.model_validate(db.deployment.plugin_config("kejaksaan_export"))
    assert await check_sink(lambda: CaseSink(config)) == {}
    verified = sample_event(1, kind="violation.verified", detail={"violation_id": 41, "plate": "KT1AB"})
    await CaseSink(config).deliver(verified)
    await CaseSink(config).deliver(verified)  # again, and after a restart: at least once, one case
    await CaseSink(config).deliver(sample_event(2, kind="violation.verified", detail={"violation_id": 41}))
    for ignored in (sample_event(3, kind="violation.warned", mode="education", detail={"violation_id": 42}),
                    sample_event(4, kind="violation.verified", agency="pemkot", detail={"violation_id": 43}),
                    sample_event(5, kind="violation.verified", detail={"plate": "no id"})):
        await CaseSink(config).deliver(ignored)
    [case] = await ExportCase.all()
    assert (case.violation_id, case.event_id, case.batch_id) == (41, verified.id, None)
    assert json.loads(case.facts)["plate"] == "KT1AB"
