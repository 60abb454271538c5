"""What the ETLE ticketing tests share: a deployment with Polri's fleet, and a violation taken to the sinks.

Polri's cameras come from the real ``polri_etle`` plugin (its inventory): ``etle-bm-1`` stands in
beruang_madu (enforcement in the test deployment), ``polri-cctv-02`` in beller (education), and the
mobile unit ``patroli-1`` is put in beruang_madu by ``unit_areas``. ``dcam`` is Dishub's camera in
beruang_madu. Streams lead nowhere: events only need the cameras to exist.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

from PIL import Image
from support.deployment import MORE_AREAS
from support.violations import DEPLOYMENT

from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Event
from core.violations.models import Violation
from plugins.polri_etle.models import Ticket

POLRI = """
[plugins.polri_etle]
url_template = "rtsp://127.0.0.1:1/{id}"
unit_areas = { "patroli-1" = "beruang_madu" }

[plugins.polri_etle.ticketing]
lookup_timeout_s = 0.5
retry_s = 60
"""

ETLE_DEPLOYMENT = DEPLOYMENT + MORE_AREAS + POLRI


def plugin_of(app):
    return app.state.services.plugins.pm.get_plugin("polri_etle")


async def eventually(check, timeout: float = 10.0, what: str = "condition"):
    """Await ``check()`` (a coroutine function) until it returns something true; that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.03)


async def to_sinks(app, client, h, camera: str = "etle-bm-1", plate: str = "KT 1234 AB",
                   when: datetime | None = None) -> Violation:
    """A parking violation with a snapshot, detected, verified and acted on: handed to the sinks (or warned)."""
    jpeg = draw_boxes(Image.new("RGB", (320, 180), (90, 90, 90)), [Box(40, 60, 200, 150, "car 0.93")])
    services = app.state.services
    snapshot = await asyncio.to_thread(store_snapshot, services.data_dir, jpeg)
    when = when or datetime.fromisoformat("2026-01-05T09:00:00+00:00")
    e = await services.events.publish(Event(kind="parking.violation", camera_id=camera, wall_time=when,
                                            snapshot=snapshot, detail={"plate": plate, "plate_confidence": 0.95}))
    v = await eventually(lambda: Violation.get_or_none(event_id=e.id), what="violation")
    r = await client.post(f"/api/violations/{v.id}/verify", json={"officer_name": "Bripka Contoh"}, headers=h)
    assert r.status_code == 200, r.text
    if r.json()["state"] == "verified":
        r = await client.post(f"/api/violations/{v.id}/action", json={"note": "stiker"}, headers=h)
        assert r.status_code == 200, r.text
    return await Violation.get(id=v.id)


def verified_event_id(violation_id: int) -> str:
    return hashlib.sha256(f"violation:{violation_id}:violation.verified".encode()).hexdigest()[:16]


async def ticket_in(violation_id: int, *states: str) -> Ticket:
    async def check():
        t = await Ticket.get_or_none(violation_id=violation_id)
        return t if t is not None and (not states or t.state in states) else None

    return await eventually(check, what=f"ticket of violation {violation_id} in {states}")
