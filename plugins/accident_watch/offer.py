"""The PTZ offer: which Dishub PTZ cameras, on which preset, cover an accident's spot.

"Covers" is deployment data, not geometry: ``[[plugins.accident_watch.coverage]]``
says that PTZ camera ``ptz_camera``'s preset ``preset`` looks at camera
``camera``'s zones ``zones`` (none: its whole picture). The control room knows
which preset of which dome looks down which street; a camera's lat/lon says how
far, not what it sees. The offer lists each covering preset with who holds the
camera now (an operator's manual-control lock) and, where both cameras have a
position, the distance, nearest first. Accepting it
(``POST /api/accident_watch/alerts/{event_id}/ptz``) turns the camera through the core's PTZ
arbiter as the operator, so an operator who holds the camera keeps it.
"""

from __future__ import annotations

import math
from typing import Any

from plugins.accident_watch.config import Config


def distance_m(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> float | None:
    """Great-circle distance in metres, or ``None`` without both positions."""
    if None in a or None in b:
        return None
    lat1, lon1, lat2, lon2 = (math.radians(v) for v in (*a, *b))  # type: ignore[arg-type]
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


def offer(config: Config, camera_id: str, zone_id: str | None, services: Any) -> list[dict[str, Any]]:
    """The presets that cover the spot, as JSON: camera, preset, its name, held_by, distance_m."""
    if services.cameras is None or services.ptz is None:
        return []  # no camera directory (bconnect analyze over a file): nothing to turn
    here = services.cameras.info(camera_id)
    out: list[dict[str, Any]] = []
    for cov in config.coverage:
        if cov.camera != camera_id or (cov.zones and zone_id not in cov.zones):
            continue
        ptz = services.ptz
        if not ptz.has(cov.ptz_camera):
            continue  # not a PTZ camera of this deployment (yet): nothing to offer
        names = {p.id: p.name for p in ptz.presets(cov.ptz_camera)}
        if cov.preset not in names:
            continue
        lock = ptz.lock(cov.ptz_camera)
        there = services.cameras.info(cov.ptz_camera)
        far = distance_m((here.lat, here.lon), (there.lat, there.lon)) if here and there else None
        out.append({
            "camera": cov.ptz_camera,
            "preset": cov.preset,
            "preset_name": names[cov.preset],
            "held_by": lock.owner if lock is not None else None,
            "distance_m": round(far, 1) if far is not None else None,
        })
    out.sort(key=lambda o: (o["distance_m"] is None, o["distance_m"] or 0.0, o["camera"]))
    return out
