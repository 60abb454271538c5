"""The one event type: a frozen dataclass with explicit fields, checked when built.

An analyzer builds an :class:`Event` with what it saw (kind, camera, preset,
times, zone, track, detail, evidence); the core fills in what it owns, the
camera's ``agency``, ``area`` and the area's ``mode``, when it publishes
(:class:`core.events.bus.EventBus`). ``id`` is made here, so an analyzer that
publishes the same event twice (a retry) stores it once, and a sink that is
handed an event twice (delivery is at least once) can tell.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Mode = Literal["enforcement", "education"]
Priority = Literal["low", "normal", "high", "critical"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "critical")
MODES: tuple[Mode, ...] = ("enforcement", "education")

EVENT_ID = re.compile(r"^[0-9a-f]{16}$")
# "parking.violation", "accident.suspected", "crime.loitering": a family, a dot, a name
KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){0,2}$")
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")  # camera, preset, zone ids
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SNAPSHOT_PATH = re.compile(r"^snapshots/[0-9a-f]{2}/[0-9a-f]{64}\.jpg$")
MAX_DETAIL_BYTES = 16_384


def new_event_id() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Snapshot:
    """A JPEG with the boxes drawn, stored once by content under the data folder.

    ``path`` is relative to the data folder (``snapshots/ab/<sha256>.jpg``, see
    :func:`core.events.snapshots.store_snapshot`).
    """

    path: str
    sha256: str

    def __post_init__(self) -> None:
        if not SHA256.match(self.sha256):
            raise ValueError(f"snapshot sha256: expected 64 hex digits, not {self.sha256[:70]!r}")
        if not SNAPSHOT_PATH.match(self.path) or self.sha256 not in self.path:
            raise ValueError(f"snapshot path: expected snapshots/xx/<sha256>.jpg, not {self.path[:100]!r}")


def json_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``detail`` made only of JSON values; ``ValueError`` with the reason otherwise."""
    if not isinstance(detail, Mapping):
        raise ValueError(f"detail: expected a mapping, not {type(detail).__name__}")
    try:
        text = json.dumps(detail, allow_nan=False, sort_keys=True, default=_refuse)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"detail: not JSON: {exc}") from None
    if len(text.encode()) > MAX_DETAIL_BYTES:
        raise ValueError(f"detail: {len(text.encode())} bytes as JSON, at most {MAX_DETAIL_BYTES}")
    copy = json.loads(text)
    if not all(isinstance(k, str) for k in detail):
        raise ValueError("detail: keys must be strings")
    return copy


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: a naive datetime; give its time zone")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Event:
    """Something analytics saw on one camera, at one moment.

    ``wall_time`` is when it happened (UTC; any aware datetime is converted),
    ``stream_time`` the stream's own clock in seconds, if known. ``preset_id``
    is the PTZ preset the camera was on, ``zone_id`` and ``track_id`` what the
    event is about. ``detail`` is the kind's own facts, JSON values only (at
    most 16 KiB). ``snapshot`` and ``clip_id`` are the evidence: a stored JPEG
    with boxes drawn and an evidence clip (:mod:`core.media.clips`).
    ``priority`` orders alerts: a suspected accident is ``high`` or
    ``critical``. ``agency``, ``area`` and ``mode`` are the camera's and its
    area's; the bus sets them.
    """

    kind: str
    camera_id: str
    wall_time: datetime
    preset_id: str | None = None
    stream_time: float | None = None
    zone_id: str | None = None
    track_id: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)  # a dict: events stay hashable without it
    snapshot: Snapshot | None = None
    clip_id: str | None = None
    priority: Priority = "normal"
    agency: str = ""
    area: str | None = None
    mode: Mode = "education"
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not KIND.match(self.kind):
            raise ValueError(f"kind: expected lower-case words joined by dots (parking.violation), not {self.kind!r}")
        for name in ("camera_id", "preset_id", "zone_id"):
            value = getattr(self, name)
            if (value is not None or name == "camera_id") and (not isinstance(value, str) or not REF.match(value)):
                raise ValueError(f"{name}: not a valid id: {value!r}")
        object.__setattr__(self, "wall_time", _utc(self.wall_time, "wall_time"))
        if self.stream_time is not None:
            if isinstance(self.stream_time, bool) or not isinstance(self.stream_time, (int, float)):
                raise ValueError("stream_time: expected seconds as a number")
            if not math.isfinite(self.stream_time) or self.stream_time < 0:
                raise ValueError(f"stream_time: {self.stream_time!r} is not a finite number of seconds >= 0")
            object.__setattr__(self, "stream_time", float(self.stream_time))
        if self.track_id is not None and (isinstance(self.track_id, bool) or not isinstance(self.track_id, int)):
            raise ValueError(f"track_id: expected an integer, not {self.track_id!r}")
        object.__setattr__(self, "detail", json_detail(self.detail))
        if self.snapshot is not None and not isinstance(self.snapshot, Snapshot):
            raise ValueError("snapshot: expected a Snapshot (core.events.snapshots.store_snapshot makes one)")
        if self.clip_id is not None and not (isinstance(self.clip_id, str) and re.match(r"^[0-9a-f]{16}$", self.clip_id)):
            raise ValueError(f"clip_id: not an evidence clip id: {self.clip_id!r}")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority: {self.priority!r} is not one of {', '.join(PRIORITIES)}")
        if self.mode not in MODES:
            raise ValueError(f"mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if not isinstance(self.id, str) or not EVENT_ID.match(self.id):
            raise ValueError(f"id: expected 16 hex digits, not {self.id!r}")

    def public(self) -> dict[str, Any]:
        """JSON-ready, for API answers and sinks that speak JSON."""
        return {
            "id": self.id,
            "kind": self.kind,
            "camera": self.camera_id,
            "preset": self.preset_id,
            "wall_time": self.wall_time.isoformat().replace("+00:00", "Z"),
            "stream_time": self.stream_time,
            "zone": self.zone_id,
            "track": self.track_id,
            "detail": dict(self.detail),
            "snapshot": {"sha256": self.snapshot.sha256} if self.snapshot else None,
            "clip": self.clip_id,
            "priority": self.priority,
            "agency": self.agency,
            "area": self.area,
            "mode": self.mode,
        }
