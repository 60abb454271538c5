"""Evidence retention: purge what expired, never what is held, and audit each purge.

``[retention]`` gives the days each kind is kept (``clip_days``,
``snapshot_days``). A clip or snapshot with ``held`` set (the evidence of an
open case: the violation workflow sets it, ``set_hold`` here) is never purged,
however old. Each purge removes the row and appends ``evidence.purge`` to the
audit chain in one transaction (a hold set meanwhile wins), then deletes the
files; a clip still being cut is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from core.audit import chain
from core.config import RetentionSettings
from core.evidence.files import CLIPS_DIR, SNAPSHOTS_DIR
from core.models import EvidenceClip, EvidenceSnapshot

log = logging.getLogger("bconnect.evidence")

SYSTEM_ACTOR = "system:retention"
BATCH = 500  # rows purged per kind and run: a long backlog is worked off over several runs


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[Model]
    folder: str
    days_key: str


KINDS = {
    "clip": Kind("clip", EvidenceClip, CLIPS_DIR, "clip_days"),
    "snapshot": Kind("snapshot", EvidenceSnapshot, SNAPSHOTS_DIR, "snapshot_days"),
}


class HoldError(Exception):
    """Unknown kind or id; the message names it."""


@dataclass
class PurgeResult:
    purged: list[str] = field(default_factory=list)  # "clip <id>"
    held: int = 0  # expired but held, kept


def _remove_files(directory: Path, file: str) -> None:
    path = directory / file
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)  # a clip's sidecar


async def purge_expired(data_dir: Path, retention: RetentionSettings, now: datetime | None = None) -> PurgeResult:
    """Delete the evidence older than its kind's retention that is not held; returns what was purged."""
    now = now or datetime.now(UTC)
    result = PurgeResult()
    for kind in KINDS.values():
        days = getattr(retention, kind.days_key)
        expired = kind.model.filter(created_at__lt=now - timedelta(days=days))
        if kind.model is EvidenceClip:
            expired = expired.filter(status__in=("ready", "failed"))
        result.held += await expired.filter(held=True).count()
        for row in await expired.filter(held=False).order_by("created_at").limit(BATCH):
            if await _purge_one(kind, row, days):
                await asyncio.to_thread(_remove_files, Path(data_dir) / kind.folder, row.file)
                result.purged.append(f"{kind.name} {row.id}")
    if result.purged:
        log.info("retention: purged %d evidence files; %d expired but held", len(result.purged), result.held)
    return result


async def _purge_one(kind: Kind, row: Any, days: int) -> bool:
    detail = (
        f"{kind.name} of camera {row.camera_id}, file {row.file}, sha256 {row.sha256}, "
        f"created {row.created_at.isoformat()}, kept {days} days"
    )
    async with in_transaction():
        # a hold set since the query wins: only an unheld row is deleted
        if not await kind.model.filter(id=row.id, held=False).delete():
            return False
        await chain.append(SYSTEM_ACTOR, "evidence.purge", f"{kind.name}:{row.id}", detail)
    return True


async def set_hold(kind_name: str, evidence_id: str, held: bool, *, actor: str, reason: str) -> Any:
    """Hold (``held=True``) or release a clip or snapshot; audited as ``evidence.hold`` / ``evidence.release``."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise HoldError(f"unknown evidence kind {kind_name!r} (one of: {', '.join(KINDS)})")
    async with in_transaction():
        if not await kind.model.filter(id=evidence_id).update(held=held):
            raise HoldError(f"unknown {kind.name} {evidence_id[:40]!r}")
        action = "evidence.hold" if held else "evidence.release"
        await chain.append(actor, action, f"{kind.name}:{evidence_id}", reason)
    return await kind.model.get(id=evidence_id)
