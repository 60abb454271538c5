"""What the violation tests share: the event tests' cameras, a short ladder and a legal mapping, helpers.

Cameras (tests/support/events.py): ``dcam`` of dishub in beruang_madu (enforcement), ``pcam`` of polri
in beller (education), ``nowhere`` of pemkot with no area. The test deployment lets dishub read dishub's
data, polri polri's, pemkot everyone's (tests/support/deployment.py).
"""

from __future__ import annotations

from support.events import CAMERAS

from core.testing.app import add_user, bearer_headers

ENFORCEMENT = """
[enforcement]
plate_confidence = 0.8
rejection_reasons = ["not_a_violation", "plate_unreadable", "duplicate"]
flag_rejections = 2

[enforcement.ladder]
window_days = 30
steps = [
    { name = "teguran", after = 0 },
    { name = "stiker", after = 1 },
    { name = "kempes_ban", after = 2 },
    { name = "derek", after = 3 },
]

[enforcement.laws."parking.violation"]
law = "UU No. 22 Tahun 2009"
pasal = "287"
ayat = "3"
max_fine = 250000
max_jail = "1 bulan"
text = "tata cara berhenti dan parkir"
"""

DEPLOYMENT = CAMERAS + ENFORCEMENT


async def headers(name: str, role: str, agency: str) -> dict[str, str]:
    return await bearer_headers(await add_user(name, role=role, agency=agency))


async def create(client, h, camera: str = "dcam", plate: str | None = "KT 1234 AB", confidence: float | None = 0.95,
                 when: str = "2026-01-05T09:00:00Z", **extra) -> dict:
    """A violation entered through the API; fails the test unless it was made."""
    body = {"camera": camera, "kind": "parking.violation", "wall_time": when, **extra}
    if plate is not None:
        body["plate"] = plate
    if confidence is not None:
        body["plate_confidence"] = confidence
    r = await client.post("/api/violations", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()
