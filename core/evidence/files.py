"""Evidence files on disk: written once, hashed from the bytes written, never overwritten.

Clips are written by ``core.media.clips`` (hash recorded in the ``clips`` row
and the ``.json`` sidecar); snapshots kept as evidence by :func:`save_snapshot`
here, into ``data_dir/snapshots/``. Both follow the same rule: a temporary file,
flushed to disk, hashed, renamed into place, so a file is complete or absent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from pathlib import Path

from core.models import EvidenceClip, EvidenceSnapshot

SNAPSHOTS_DIR = "snapshots"
CLIPS_DIR = "clips"


class EvidenceError(Exception):
    """Evidence cannot be written; the message says why."""


async def ready_clip(data_dir: Path, clip_id: str) -> tuple[Path, str] | None:
    """A ready evidence clip's file and its recorded SHA-256, or ``None`` (unknown, still being cut,
    failed). Needs the database open, not the server: offline exports use it as well as plugins."""
    row = await EvidenceClip.get_or_none(id=clip_id)
    if row is None or not row.file or row.status != "ready":
        return None
    return Path(data_dir) / CLIPS_DIR / row.file, row.sha256


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes; blocking."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_once(path: Path, data: bytes) -> str:
    """Write ``data`` to a new file at ``path`` durably and return its SHA-256; blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise EvidenceError(f"{path.name} exists already; evidence is never overwritten")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        sha = sha256_file(tmp)  # from the disk, not from memory: what a later check will read
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return sha


async def save_snapshot(
    data_dir: Path, camera_id: str, agency: str, jpeg: bytes, *, created_by: str, note: str = ""
) -> EvidenceSnapshot:
    """Keep a JPEG as evidence: the file under ``data_dir/snapshots/``, its row with the SHA-256."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise EvidenceError("not a JPEG")
    snapshot_id = secrets.token_hex(8)
    camera = re.sub(r"[^A-Za-z0-9_-]", "_", camera_id)[:40] or "camera"
    name = f"{camera}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{snapshot_id}.jpg"
    sha = await asyncio.to_thread(write_once, Path(data_dir) / SNAPSHOTS_DIR / name, jpeg)
    return await EvidenceSnapshot.create(
        id=snapshot_id, camera_id=camera_id, agency=agency, created_by=created_by, note=note,
        file=name, size=len(jpeg), sha256=sha,
    )
