"""Events in the database: insert once, read in order, filter, acknowledge, move a sink's cursor.

Every write is one statement, committed before the call returns: an event the
bus has accepted, a cursor a sink has moved, an acknowledgement answered 200,
survive a crash of the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Max

from core.events.models import EventRow, SinkCursor
from core.events.types import Event, Snapshot


@dataclass(frozen=True)
class Ack:
    by: str
    at: datetime
    note: str


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: its place in the log, when the core took it, and its acknowledgement."""

    event: Event
    seq: int
    received_at: datetime
    ack: Ack | None

    def public(self) -> dict[str, Any]:
        body = self.event.public()
        if self.event.snapshot is not None:
            body["snapshot"]["url"] = f"/api/events/{self.event.id}/snapshot"
        body["seq"] = self.seq
        body["received_at"] = _iso(self.received_at)
        body["ack"] = None
        if self.ack is not None:
            body["ack"] = {
                "by": self.ack.by,
                "at": _iso(self.ack.at),
                "note": self.ack.note,
                # alert to acknowledgement: how fast the centre answered
                "response_s": round((self.ack.at - self.received_at).total_seconds(), 3),
            }
        return body


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def row_values(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "camera_id": event.camera_id,
        "preset_id": event.preset_id,
        "zone_id": event.zone_id,
        "track_id": event.track_id,
        "wall_time": event.wall_time,
        "stream_time": event.stream_time,
        "detail": json.dumps(dict(event.detail), sort_keys=True),
        "snapshot_path": event.snapshot.path if event.snapshot else None,
        "snapshot_sha256": event.snapshot.sha256 if event.snapshot else None,
        "clip_id": event.clip_id,
        "priority": event.priority,
        "agency": event.agency,
        "area": event.area,
        "mode": event.mode,
    }


def from_row(row: EventRow) -> StoredEvent:
    snapshot = Snapshot(row.snapshot_path, row.snapshot_sha256) if row.snapshot_path and row.snapshot_sha256 else None
    event = Event(
        id=row.id,
        kind=row.kind,
        camera_id=row.camera_id,
        preset_id=row.preset_id,
        zone_id=row.zone_id,
        track_id=row.track_id,
        wall_time=row.wall_time,
        stream_time=row.stream_time,
        detail=json.loads(row.detail),
        snapshot=snapshot,
        clip_id=row.clip_id,
        priority=row.priority,  # type: ignore[arg-type]
        agency=row.agency,
        area=row.area,
        mode=row.mode,  # type: ignore[arg-type]
    )
    ack = Ack(row.acked_by or "", row.acked_at, row.ack_note) if row.acked_at is not None else None
    return StoredEvent(event, row.seq, row.received_at, ack)


async def insert(event: Event) -> tuple[StoredEvent, bool]:
    """Store ``event``; ``(stored, False)`` if an event with its id is stored already."""
    existing = await EventRow.get_or_none(id=event.id)
    if existing is not None:
        return from_row(existing), False
    row = await EventRow.create(**row_values(event))
    return from_row(row), True


async def get(event_id: str) -> StoredEvent | None:
    row = await EventRow.get_or_none(id=event_id)
    return from_row(row) if row is not None else None


async def after(seq: int, limit: int) -> list[StoredEvent]:
    """Events stored after ``seq``, oldest first."""
    rows = await EventRow.filter(seq__gt=seq).order_by("seq").limit(limit)
    return [from_row(r) for r in rows]


async def last_seq() -> int:
    row = await EventRow.annotate(top=Max("seq")).first().values("top")
    return int(row["top"] or 0) if row else 0


async def acknowledge(event_id: str, by: str, note: str) -> tuple[StoredEvent | None, bool]:
    """Acknowledge once: ``(event, True)``; already acknowledged: ``(event as it is, False)``.

    One conditional UPDATE, so two operators acknowledging at the same moment
    cannot both win.
    """
    now = datetime.now(timezone.utc)
    changed = await EventRow.filter(id=event_id, acked_at__isnull=True).update(acked_by=by, acked_at=now, ack_note=note)
    return await get(event_id), bool(changed)


async def cursor(sink: str, start: int) -> int:
    """The sink's position; a sink seen for the first time starts at ``start``."""
    row, _ = await SinkCursor.get_or_create(sink=sink, defaults={"position": start})
    return int(row.position)


async def advance(sink: str, seq: int) -> None:
    await SinkCursor.filter(sink=sink).update(
        position=seq, delivered=F("delivered") + 1, updated_at=datetime.now(timezone.utc)
    )
