"""A violation's evidence (its snapshot and clip) held while the case is open, released when it ends.

The retention purge (:mod:`core.evidence.retention`) never deletes held evidence.
A violation holds its clip and its snapshot from its creation; when it reaches a
final state (``closed``, ``rejected``, ``warned``) they are released, unless
another open violation shares them, and the retention rule applies to them again
(counted from when they were written). Each hold and release is an audit entry
(``evidence.hold``, ``evidence.release``).

An event's snapshot is stored by its SHA-256 under ``data_dir/snapshots/``
(:func:`core.events.snapshots.store_snapshot`); a violation's is recorded in the
evidence store (``evidence_snapshots``, id = the first 16 hex digits of its
SHA-256, so recording it twice is one row) when it is first held, so that
``bconnect audit verify --evidence`` rehashes it and retention covers it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from core.evidence.files import SNAPSHOTS_DIR
from core.evidence.retention import set_hold
from core.models import EvidenceClip, EvidenceSnapshot
from core.violations.models import Violation
from core.violations.states import OPEN

log = logging.getLogger("bconnect.violations")
ACTOR = "system"


def snapshot_id(v: Violation) -> str | None:
    """The evidence store's id of the violation's snapshot (``None``: it has none)."""
    return v.snapshot_sha256[:16] if v.snapshot_path and v.snapshot_sha256 else None


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


async def record_snapshot(v: Violation, data_dir: Path) -> EvidenceSnapshot | None:
    """The violation's snapshot as an evidence-store row (made once); ``None`` without a snapshot file."""
    sid = snapshot_id(v)
    if sid is None:
        return None
    row = await EvidenceSnapshot.get_or_none(id=sid)
    if row is not None:
        return row
    prefix = f"{SNAPSHOTS_DIR}/"
    if not v.snapshot_path.startswith(prefix):
        return None  # not under the snapshots folder: nothing the store can check
    size = await asyncio.to_thread(_size, Path(data_dir) / v.snapshot_path)
    if size is None:
        log.warning("violation %s: snapshot %s is missing, not recorded as evidence", v.id, v.snapshot_path)
        return None
    row, _ = await EvidenceSnapshot.get_or_create(
        id=sid, defaults={"camera_id": v.camera_id, "agency": v.agency, "created_by": ACTOR,
                          "note": f"snapshot of violation {v.id}", "file": v.snapshot_path[len(prefix):],
                          "size": size, "sha256": v.snapshot_sha256},
    )
    return row


async def record_missing(data_dir: Path) -> int:
    """Record in the evidence store the snapshots of violations made before they were recorded (open or
    decided), dated when their violation was made, so the hash check and retention cover them; returns
    how many. Two queries when there is nothing to do."""
    known = set(await EvidenceSnapshot.all().values_list("id", flat=True))
    missing = [
        vid for vid, sha in await Violation.filter(snapshot_path__isnull=False, snapshot_sha256__isnull=False)
        .values_list("id", "snapshot_sha256")
        if sha[:16] not in known
    ]
    done = 0
    for vid in missing:
        v = await Violation.get(id=vid)
        if await EvidenceSnapshot.exists(id=snapshot_id(v)):
            continue  # shared with a violation recorded in this loop
        row = await record_snapshot(v, data_dir)
        if row is not None:
            await EvidenceSnapshot.filter(id=row.id).update(created_at=v.created_at)
            done += 1
    return done


async def hold(v: Violation, data_dir: Path | None) -> list[str]:
    """Hold the open violation's snapshot and clip; returns what it held now (``snapshot:<id>``...)."""
    done = []
    if data_dir is not None:
        row = await record_snapshot(v, data_dir)
        if row is not None and not row.held:
            await set_hold("snapshot", row.id, True, actor=ACTOR, reason=f"violation {v.id} is open")
            done.append(f"snapshot:{row.id}")
    if v.clip_id:
        clip = await EvidenceClip.get_or_none(id=v.clip_id)
        if clip is not None and not clip.held:
            await set_hold("clip", clip.id, True, actor=ACTOR, reason=f"violation {v.id} is open")
            done.append(f"clip:{clip.id}")
    return done


async def release(v: Violation) -> list[str]:
    """Release the evidence of a violation that reached a final state, unless an open violation shares it."""
    done = []
    sid = snapshot_id(v)
    others = Violation.filter(state__in=OPEN).exclude(id=v.id)
    if sid is not None:
        row = await EvidenceSnapshot.get_or_none(id=sid)
        if row is not None and row.held and not await others.filter(snapshot_sha256=v.snapshot_sha256).exists():
            await set_hold("snapshot", sid, False, actor=ACTOR, reason=f"violation {v.id} is {v.state}")
            done.append(f"snapshot:{sid}")
    if v.clip_id:
        clip = await EvidenceClip.get_or_none(id=v.clip_id)
        if clip is not None and clip.held and not await others.filter(clip_id=v.clip_id).exists():
            await set_hold("clip", clip.id, False, actor=ACTOR, reason=f"violation {v.id} is {v.state}")
            done.append(f"clip:{clip.id}")
    return done
