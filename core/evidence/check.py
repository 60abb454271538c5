"""Rehash every evidence file and compare it with the SHA-256 recorded when it was written."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from core.evidence.files import CLIPS_DIR, SNAPSHOTS_DIR, sha256_file
from core.models import EvidenceClip, EvidenceSnapshot


@dataclass
class EvidenceReport:
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check(path: Path, recorded: str | None) -> str | None:
    """What is wrong with one file, or ``None``; blocking."""
    if not path.is_file():
        return "missing"
    actual = sha256_file(path)
    if recorded is None:
        return "no SHA-256 was recorded for it"
    if actual != recorded:
        return f"changed: its SHA-256 is {actual}, {recorded} was recorded"
    return None


async def verify_evidence(data_dir: Path) -> EvidenceReport:
    report = EvidenceReport()
    kinds = (
        ("clip", EvidenceClip.filter(status="ready"), Path(data_dir) / CLIPS_DIR),
        ("snapshot", EvidenceSnapshot.all(), Path(data_dir) / SNAPSHOTS_DIR),
    )
    for kind, query, directory in kinds:
        for row in await query.order_by("created_at", "id"):
            report.files += 1
            why = await asyncio.to_thread(_check, directory / row.file, row.sha256)
            if why is not None:
                report.problems.append(f"{kind} {row.id} ({row.file}, camera {row.camera_id}): {why}")
    return report
