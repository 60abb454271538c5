"""What the Kejaksaan export tests share: the violation tests' deployment with the export enabled for
Dishub's camera ``dcam`` (enforcement area), a prosecutor's access, and helpers that drive real cases
through the violation workflow's API to the sink."""

from __future__ import annotations

import asyncio

from PIL import Image
from support.events import event
from support.violations import DEPLOYMENT, create

from core.events.snapshots import Box, draw_boxes, store_snapshot

EXPORT = """
[access.kejaksaan]
cameras = []
data = ["dishub"]

[plugins.kejaksaan_export]
agencies = ["dishub"]
target = "exports/kejaksaan"

[plugins.kejaksaan_export.hearing]
weekday = "friday"
"""

KEJAKSAAN_DEPLOYMENT = DEPLOYMENT + EXPORT


async def wait_for(check, timeout: float = 15.0, what: str = "condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def snapshot_of(data_dir, n: int = 0):
    picture = Image.new("RGB", (320, 180), (80 + n % 100, 90, 90))
    return store_snapshot(data_dir, draw_boxes(picture, [Box(40, 40, 200, 140, "car 0.93")]))


async def a_clip(data_dir, n: int) -> str:
    """A ready evidence clip row and its file, as the clip service leaves one (the bytes are not video:
    the export copies and hashes them, it never decodes them)."""
    import hashlib
    import os

    from core.models import EvidenceClip

    blob = os.urandom(8192)
    (data_dir / "clips").mkdir(parents=True, exist_ok=True)
    (data_dir / "clips" / f"dcam-{n}.mp4").write_bytes(blob)
    clip = await EvidenceClip.create(id=f"{n:016x}", camera_id="dcam", agency="dishub", created_by="analytics",
                                     status="ready", pre_s=5, post_s=5, file=f"dcam-{n}.mp4",
                                     sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    return clip.id


async def handed_over(app, client, officer, data_dir, with_snapshot: bool, n: int = 0) -> int:
    """A violation on dcam, verified and its ladder step taken through the API; its id. ``with_snapshot``:
    it comes from an event with a snapshot and an evidence clip."""
    from core.violations.models import Violation

    if with_snapshot:
        e = await app.state.services.events.publish(event(
            "dcam", n=n, snapshot=snapshot_of(data_dir, n), clip_id=await a_clip(data_dir, n),
            detail={"plate": f"KT {1000 + n} AB", "plate_confidence": 0.95, "class": "car"}, zone_id="z1"))
        v = await wait_for(lambda: Violation.get_or_none(event_id=e.id), what="the violation of the event")
        vid = v.id
    else:
        vid = (await create(client, officer, plate=f"KT {2000 + n} AB"))["id"]
    r = await client.post(f"/api/violations/{vid}/verify", json={"officer_name": "Bripka Andi Saputra"},
                          headers=officer)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/violations/{vid}/action", json={"note": "stiker dipasang"}, headers=officer)
    assert r.status_code == 200 and r.json()["state"] == "handed_to_sink", r.text
    return vid
