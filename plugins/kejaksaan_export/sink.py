"""The sink: each verified violation of the chosen agencies becomes one case waiting for the next batch.

Only ``violation.verified`` events of areas in enforcement (an officer verified
them and the ladder step was carried out). The facts are kept as handed over,
with the camera's name and place as the deployment describes them now: the
case file shows what the court is asked to decide, not what changes later.
The outbox delivers at least once; the event id (unique) makes a repeat a no-op.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from core.events.types import Event
from plugins.kejaksaan_export.config import Config
from plugins.kejaksaan_export.models import ExportCase


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CaseSink:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.name = config.name
        self.services: Any = None  # PluginServices, set at start-up

    def wanted(self, event: Event) -> bool:
        return (event.kind == "violation.verified" and event.mode == "enforcement"
                and event.agency in self.config.agencies and isinstance(event.detail.get("violation_id"), int))

    def facts(self, event: Event) -> dict[str, Any]:
        d = event.detail
        info = self.services.cameras.info(event.camera_id) if self.services is not None else None
        areas = self.services.deployment.areas if self.services is not None else {}
        return {
            "violation_id": d["violation_id"], "event_id": event.id, "kind": d.get("violation_kind"),
            "plate": d.get("plate"), "plate_source": d.get("plate_source"), "vehicle_class": d.get("vehicle_class"),
            "legal": d.get("legal"), "ladder_step": d.get("ladder_step"), "offence_count": d.get("offence_count"),
            "officer_name": d.get("officer_name"), "decided_by": d.get("decided_by"), "decided_at": d.get("decided_at"),
            "camera_id": event.camera_id, "camera_name": info.name if info else None,
            "lat": info.lat if info else None, "lon": info.lon if info else None,
            "agency": event.agency, "area": event.area,
            "area_name": areas[event.area].name if event.area in areas else None,
            "wall_time": _iso(event.wall_time), "zone_id": event.zone_id,
            "snapshot": {"path": event.snapshot.path, "sha256": event.snapshot.sha256} if event.snapshot else None,
            "clip_id": event.clip_id,
        }

    async def deliver(self, event: Event) -> None:
        if not self.wanted(event):
            return
        if await ExportCase.exists(event_id=event.id):
            return  # delivered before a restart
        try:
            await ExportCase.create(violation_id=event.detail["violation_id"], event_id=event.id, agency=event.agency,
                                    facts=json.dumps(self.facts(event), ensure_ascii=False),
                                    received_at=datetime.now(UTC))
        except IntegrityError:
            return  # the same violation under another event id: one case per violation
