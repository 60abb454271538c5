"""What the MQTT sink publishes: topics and JSON payloads (documented in docs/mqtt.md).

Pure functions of an event or a camera status; no I/O. Every event payload
carries the event's ``id``: delivery is at least once across a crash, and a
subscriber drops a repeat by it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from core.events.types import Event

VIOLATION_KINDS = {"violation.verified": "verified", "violation.warned": "warned"}
# detail keys that name or identify a person: left out unless personal_data = true
PERSONAL = ("plate", "plate_text", "plate_source", "plate_confidence", "officer_name", "decided_by", "owner", "driver")


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def without_personal(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k not in PERSONAL}


def event_message(event: Event, prefix: str, personal_data: bool) -> tuple[str, bytes]:
    """``(topic, payload)`` of an event: violations on ``<prefix>/violations``, the rest on ``<prefix>/events``."""
    after = event.public()
    if not personal_data:
        after["detail"] = without_personal(after["detail"])
    label = after["detail"].get("class")
    after["label"] = label if isinstance(label, str) else event.kind
    decision = VIOLATION_KINDS.get(event.kind)
    if decision is not None:
        return f"{prefix}/violations", dumps({"type": decision, "id": event.id, "after": after})
    return f"{prefix}/events", dumps({"type": "new", "id": event.id, "before": None, "after": after})


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_message(camera_id: str, state: str, reason: str | None, since: float | None, prefix: str) -> tuple[str, bytes]:
    """``(topic, payload)`` of a camera's status, published retained on ``<prefix>/<camera>/status``."""
    return f"{prefix}/{camera_id}/status", dumps({"camera": camera_id, "state": state, "reason": reason, "since": iso(since)})
