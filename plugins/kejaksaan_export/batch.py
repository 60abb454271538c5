"""Writing a batch: claimed in the database, built in a hidden folder, renamed into place when complete.

Exactly once, across crashes: a batch claims every waiting case in one UPDATE
(``kejaksaan_cases.batch_id``), and a batch left ``building`` is the next
run's batch, before any new one. Its files go to ``<target>/.building-<name>``
(each file and the folder fsynced), which is renamed to ``<target>/<name>`` in
one step; only then is the batch marked ``complete``. A crash before the
rename leaves a hidden folder that the next run removes and builds again; a
crash after it leaves a folder that verifies, which the next run accepts.
One export at a time per target: an ``flock`` on ``<target>/.export.lock``
(released by the kernel when a process dies). A target that is full or
read-only raises :class:`ExportFailed` with the reason; the cases stay with
their batch and go out at the next run.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from core.evidence.files import ready_clip
from plugins.kejaksaan_export import casefile, signing
from plugins.kejaksaan_export.config import Config
from plugins.kejaksaan_export.models import ExportBatch, ExportCase
from plugins.kejaksaan_export.verify import FORMAT, MANIFEST, SIGNATURE, verify

log = logging.getLogger("bconnect.plugin.kejaksaan_export")
BUILDING = "building"
COMPLETE = "complete"
LOCK = ".export.lock"
PROGRESS_EVERY_S = 0.5
Progress = Callable[[int, int], None]  # (cases done, cases in the batch)


class ExportFailed(Exception):
    """An export that cannot run or finish now; ``status`` is the HTTP answer, the message the reason."""

    def __init__(self, reason: str, status: int = 503) -> None:
        super().__init__(reason)
        self.status = status


def target_problem(target: Path, exc: OSError) -> ExportFailed:
    """A file-system error as the operator should read it."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return ExportFailed(f"export target {target} is full ({exc.strerror}): nothing was lost, the batch is "
                            "written at the next run once there is space", 507)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ExportFailed(f"export target {target} is read-only or not writable ({exc.strerror}): nothing was "
                            "lost, the batch is written at the next run once it is writable", 503)
    return ExportFailed(f"export target {target}: {exc.strerror or exc}: nothing was lost, the batch is written "
                        "at the next run", 503)


@dataclass
class Lock:
    fd: int

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


class Unreadable(Exception):
    """An evidence file that exists but cannot be read: the case goes out with it marked, not the batch stopped."""


def copy_file(source: Path, dest: Path) -> dict[str, Any]:
    """Copy and hash in one pass; fsynced. A source that cannot be opened is :class:`Unreadable`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        src = open(source, "rb")
    except OSError as exc:
        raise Unreadable(exc.strerror) from None
    with src, open(dest, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
            size += len(block)
        out.flush()
        os.fsync(out.fileno())
    return {"sha256": digest.hexdigest(), "size": size}


class Exporter:
    def __init__(self, config: Config, data_dir: Path, deployment: str, timezone: str) -> None:
        self.config = config
        self.data_dir = data_dir
        self.deployment = deployment
        self.timezone = timezone
        target = Path(config.target).expanduser()
        self.target = target if target.is_absolute() else data_dir / target

    # --- one export at a time ----------------------------------------------------------------

    def lock(self) -> Lock:
        """Take the target's lock (blocking file work: call from a thread)."""
        try:
            self.target.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.target / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise target_problem(self.target, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ExportFailed("an export is running already; try again when it has finished", 409) from None
        return Lock(fd)

    # --- the database side ----------------------------------------------------------------------

    async def claim(self, trigger: str, by: str) -> ExportBatch | None:
        """The unfinished batch, else a new one with every waiting case; ``None``: nothing to export."""
        async with in_transaction() as conn:
            batch = await ExportBatch.filter(state=BUILDING).using_db(conn).order_by("id").first()
            if batch is not None:
                return batch
            if not await ExportCase.filter(batch_id=None).using_db(conn).exists():
                return None
            now = datetime.now(UTC)
            local = now.astimezone(ZoneInfo(self.timezone))
            batch = await ExportBatch.create(
                using_db=conn, name=f"new-{time.time_ns()}", state=BUILDING, trigger=trigger, requested_by=by,
                created_at=now, hearing_date=casefile.hearing_date(self.config, local.date()))
            batch.name = f"KJ-{local:%Y%m%d}-{batch.id:04d}"
            batch.cases = await ExportCase.filter(batch_id=None).using_db(conn).update(batch_id=batch.id)
            await batch.save(using_db=conn, update_fields=["name", "cases"])
        log.info("batch %s claims %d case(s)", batch.name, batch.cases)
        return batch

    # --- the files ------------------------------------------------------------------------------

    async def build(self, batch: ExportBatch, progress: Progress | None = None) -> ExportBatch:
        """Write ``batch`` and mark it complete; the lock is held by the caller."""
        final, tmp = self.target / batch.name, self.target / f".building-{batch.name}"
        key = await asyncio.to_thread(signing.load_or_create, self.data_dir)
        try:
            if await asyncio.to_thread(final.exists):
                return await self._adopt(batch, final, key)
            await asyncio.to_thread(self._fresh, tmp)
            cases = await ExportCase.filter(batch_id=batch.id).order_by("violation_id")
            total, files, records = len(cases), [], []
            last = 0.0
            for i, case in enumerate(cases, 1):
                facts = json.loads(case.facts)
                evidence = await self._evidence(facts, tmp, files)
                records.append(casefile.record(facts, self.config, self.timezone, batch.hearing_date, evidence))
                if progress:
                    progress(i, total)
                if time.monotonic() - last >= PROGRESS_EVERY_S or i == total:
                    last = time.monotonic()
                    await ExportBatch.filter(id=batch.id).update(done=i)
            manifest_sha = await asyncio.to_thread(self._finish, batch, records, files, tmp, final, key)
        except OSError as exc:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
            failed = target_problem(self.target, exc)
            await ExportBatch.filter(id=batch.id).update(error=str(failed)[:300], done=0)
            log.warning("batch %s not written: %s", batch.name, failed)
            raise failed from None
        await ExportBatch.filter(id=batch.id).update(state=COMPLETE, completed_at=datetime.now(UTC), done=batch.cases,
                                                     manifest_sha256=manifest_sha, error="")
        log.info("batch %s complete: %d case(s) in %s", batch.name, batch.cases, final)
        return await ExportBatch.get(id=batch.id)

    async def _adopt(self, batch: ExportBatch, final: Path, key) -> ExportBatch:
        """The folder was renamed into place before a crash: accept it if it verifies, never overwrite it."""
        problems = await asyncio.to_thread(verify, final, key.public_key())
        if problems:
            raise ExportFailed(f"{final} exists but does not verify ({problems[0]}); move it aside to rebuild "
                               "the batch", 409)
        manifest_sha = await asyncio.to_thread(signing_digest, final / MANIFEST)
        await ExportBatch.filter(id=batch.id).update(state=COMPLETE, completed_at=datetime.now(UTC),
                                                     done=batch.cases, manifest_sha256=manifest_sha, error="")
        log.info("batch %s was complete on disk before a restart: accepted", batch.name)
        return await ExportBatch.get(id=batch.id)

    def _fresh(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)  # a crashed run's leftovers
        tmp.mkdir(parents=True)

    async def _evidence(self, facts: dict[str, Any], tmp: Path, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        no = casefile.case_no(facts["violation_id"])
        wanted: list[tuple[str, Path | None, str | None, str]] = []
        snap = facts.get("snapshot")
        if snap:
            wanted.append(("snapshot", self.data_dir / snap["path"], snap["sha256"], "jpg"))
        else:
            wanted.append(("snapshot", None, None, "jpg"))
        clip = await ready_clip(self.data_dir, facts["clip_id"]) if facts.get("clip_id") else None
        if clip is not None:
            wanted.append(("clip", clip[0], clip[1], "mp4"))
        else:
            wanted.append(("clip", None, None, "mp4"))
        out = []
        for kind, source, recorded, ext in wanted:
            entry: dict[str, Any] = {"kind": kind, "file": None, "sha256": None, "recorded_sha256": recorded,
                                     "integrity": "none"}
            if source is not None and await asyncio.to_thread(source.is_file):
                rel = f"evidence/{no}/{kind}.{ext}"
                try:
                    copied = await asyncio.to_thread(copy_file, source, tmp / rel)
                except Unreadable as exc:
                    entry["integrity"] = "file_unreadable"
                    log.warning("evidence %s of case %s unreadable: %s", source, no, exc)
                    out.append(entry)
                    continue
                files.append({"path": rel, **copied})
                entry.update(file=rel, sha256=copied["sha256"],
                             integrity="ok" if copied["sha256"] == recorded else "differs_from_recorded")
            elif source is not None:
                entry["integrity"] = "file_missing"  # deleted by retention, or never written
            out.append(entry)
        return out

    def _finish(self, batch: ExportBatch, records: list[dict[str, Any]], files: list[dict[str, Any]], tmp: Path,
                final: Path, key) -> str:
        created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        files = list(files)
        files.append({"path": "cases.json", **write_file(tmp / "cases.json",
                                                          casefile.cases_json(batch.name, created, self.deployment, records))})
        files.append({"path": "cases.csv", **write_file(tmp / "cases.csv", casefile.cases_csv(records))})
        manifest = {
            "format": FORMAT, "schema_version": casefile.SCHEMA_VERSION, "batch": batch.name, "created_at": created,
            "deployment": self.deployment, "court": self.config.court, "kejari": self.config.kejari,
            "cases": len(records), "hearing_date": batch.hearing_date,
            "signer": {"algorithm": "Ed25519", "public_key_sha256": signing.fingerprint(key.public_key())},
            "files": sorted(files, key=lambda f: f["path"]),
        }
        raw = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        write_file(tmp / MANIFEST, raw)
        write_file(tmp / SIGNATURE, base64.b64encode(key.sign(raw)) + b"\n")
        for folder in sorted({(tmp / f["path"]).parent for f in files}, key=lambda p: -len(p.parts)):
            fsync_dir(folder)
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(self.target)
        return hashlib.sha256(raw).hexdigest()

    # --- the whole run --------------------------------------------------------------------------

    async def export(self, trigger: str, by: str, progress: Progress | None = None) -> ExportBatch | None:
        """Finish an unfinished batch or write a new one; ``None``: no case waits."""
        lock = await asyncio.to_thread(self.lock)
        try:
            batch = await self.claim(trigger, by)
            return await self.build(batch, progress) if batch is not None else None
        finally:
            lock.release()


def signing_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
