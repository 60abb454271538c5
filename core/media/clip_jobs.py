"""Evidence clips asked for over HTTP: a bounded number of cuts running on the event loop.

Each cut is a task running :meth:`ClipWriter.cut <core.media.clips.ClipWriter.cut>`:
the post-roll is awaited on the loop, muxing, fsync and hashing run in threads
inside the writer. Its outcome goes into the ``clips`` table
(:class:`core.models.EvidenceClip`).

The database, not the ``.json`` sidecars, is the list of clips: it also holds
what a sidecar cannot (who asked and why, cuts still pending or failed) and
answers a camera's page of clips with one indexed query. The sidecar stays
the integrity record beside the MP4, and settles a cut the process lost: at
the next start a pending clip whose MP4 matches its sidecar's hash is adopted
as ready, any other is failed with the reason "interrupted".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.media.clips import ClipError, ClipWriter
from core.models import EvidenceClip

log = logging.getLogger("bconnect.clips")

PENDING, READY, FAILED = "pending", "ready", "failed"
INTERRUPTED = "interrupted"
CLIP_ID = re.compile(r"^[0-9a-f]{16}$")
# the facts of a written clip, as ClipWriter's sidecar and Clip.to_json() name them
FILE_FACTS = ("duration_s", "frames", "size", "sha256", "codec", "width", "height")


class ClipsBusy(Exception):
    """Too many cuts in flight; the message says how many."""


def new_clip_id() -> str:
    return secrets.token_hex(8)


def file_stem(camera_id: str, clip_id: str, now: float) -> str:
    """``<camera>-<UTC time>-<clip id>``: readable in the folder, unique by the id."""
    camera = re.sub(r"[^A-Za-z0-9_-]", "_", camera_id)[:40] or "camera"
    return f"{camera}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}-{clip_id}"


def _facts(meta: dict[str, Any]) -> dict[str, Any]:
    out = {key: meta[key] for key in FILE_FACTS}
    out["started_at"] = datetime.fromtimestamp(meta["started_at"], UTC)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def settle_files(directory: Path, file: str) -> dict[str, Any] | None:
    """A lost cut's sidecar if its MP4 is complete and matches it, else ``None``; blocking.

    Removes the temporary files a crash leaves behind. Never removes an MP4.
    """
    final = directory / file
    (directory / f".{final.name}.tmp").unlink(missing_ok=True)
    final.with_suffix(".json.tmp").unlink(missing_ok=True)
    sidecar = final.with_suffix(".json")
    if not final.is_file() or not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text())
        if not all(key in meta for key in (*FILE_FACTS, "started_at")):
            return None
    except (OSError, ValueError):
        return None
    if final.stat().st_size != meta["size"] or _sha256(final) != meta["sha256"]:
        log.warning("clip %s does not match the hash in its sidecar; left as failed", final)
        return None
    return meta


class ClipJobs:
    """The cuts of one app: at most ``max_in_flight`` at once."""

    def __init__(self, writer: ClipWriter, *, max_in_flight: int = 8, grace_s: float = 5.0) -> None:
        self.writer = writer
        self.max_in_flight = max_in_flight
        self.grace_s = grace_s
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def directory(self) -> Path:
        return self.writer.directory

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(
        self, camera_id: str, *, agency: str, created_by: str, note: str, pre_s: float, post_s: float
    ) -> EvidenceClip:
        """Start a cut now and record it as pending; :class:`ClipsBusy` beyond the limit."""
        if len(self._tasks) >= self.max_in_flight:
            raise ClipsBusy(f"{self.max_in_flight} clips are being cut already; try again in a few seconds")
        clip_id = new_clip_id()
        stem = file_stem(camera_id, clip_id, time.time())
        saved = asyncio.Event()
        # the cut starts before the row is written: the pre-roll ends when the request came
        task = asyncio.create_task(self._run(clip_id, camera_id, pre_s, post_s, stem, saved), name=f"clip:{clip_id}")
        self._tasks[clip_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(clip_id, None))
        try:
            row = await EvidenceClip.create(
                id=clip_id,
                camera_id=camera_id,
                agency=agency,
                created_by=created_by,
                note=note,
                status=PENDING,
                pre_s=pre_s,
                post_s=post_s,
                file=f"{stem}.mp4",
            )
        except BaseException:
            task.cancel()
            raise
        saved.set()
        return row

    async def _run(
        self, clip_id: str, camera_id: str, pre_s: float, post_s: float, stem: str, saved: asyncio.Event
    ) -> None:
        outcome: dict[str, Any]
        try:
            clip = await self.writer.cut(camera_id, pre_s=pre_s, post_s=post_s, name=stem)
        except ClipError as exc:
            outcome = {"status": FAILED, "reason": str(exc)}
        except Exception as exc:  # one clip fails, the server goes on
            log.exception("clip %s of camera %s failed", clip_id, camera_id)
            outcome = {"status": FAILED, "reason": f"{type(exc).__name__}: {exc}"}
        else:
            outcome = {"status": READY, **_facts(clip.to_json())}
        outcome["finished_at"] = datetime.now(UTC)
        await saved.wait()
        try:
            await EvidenceClip.filter(id=clip_id).update(**outcome)
        except Exception:  # still pending in the table: the next start settles it from the files
            log.exception("clip %s: recording its outcome failed", clip_id)

    async def recover(self) -> int:
        """Settle the clips left pending by a process that died; returns how many."""
        rows = await EvidenceClip.filter(status=PENDING)
        for row in rows:
            meta = await asyncio.to_thread(settle_files, self.directory, row.file)
            if meta is not None:
                update = {"status": READY, **_facts(meta)}
                log.info("clip %s of camera %s was written before the restart: ready", row.id, row.camera_id)
            else:
                update = {"status": FAILED, "reason": INTERRUPTED}
                log.warning("clip %s of camera %s was interrupted by a restart", row.id, row.camera_id)
            await EvidenceClip.filter(id=row.id, status=PENDING).update(finished_at=datetime.now(UTC), **update)
        return len(rows)

    async def stop(self) -> None:
        """Let the cuts finish writing (their post-roll ends with the cameras), then cancel the rest.

        A cancelled cut stays pending in the table; the next start settles it.
        """
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=self.grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
