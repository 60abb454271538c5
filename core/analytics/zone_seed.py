"""Zones a deployment ships as files, imported into the zone store at start for cameras that have none.

``[analytics] zone_files`` in the deployment file lists zone files (the format
``GET .../zones/export`` writes; paths relative to the deployment file). At
start-up each file whose camera has no zones saved yet (version 0) is saved
as that camera's zones, by ``deployment``; a camera that has zones keeps them,
so an operator's later edits always win and a restart imports nothing again.
A file that cannot be read or does not validate is logged with its reason and
skipped: the server starts, the other files are imported.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from core.analytics.zone_file import ZoneFileError, import_zones
from core.analytics.zone_store import ZoneConflict, ZoneStore

log = logging.getLogger("bconnect.zones")

SEEDED_BY = "deployment"


async def seed_zones(store: ZoneStore, files: list[str], base: Path) -> list[str]:
    """Import each file whose camera has no zones yet; the cameras seeded."""
    seeded = []
    for name in files:
        path = base / name
        try:
            zones = import_zones(await asyncio.to_thread(path.read_bytes), source=str(path))
        except OSError as exc:
            log.warning("zone file %s: %s", path, exc.strerror or exc)
            continue
        except ZoneFileError as exc:
            log.warning("zone file %s: %s", path, exc.problems[0] if exc.problems else exc)
            continue
        if store.version(zones.camera) != 0:
            continue  # it has zones: an operator's (or an earlier start's) are kept
        try:
            await store.save(zones, base_version=0, by=SEEDED_BY)
        except ZoneConflict:
            continue  # another process seeded it first
        seeded.append(zones.camera)
        log.info("camera %s: %d zones imported from %s", zones.camera, len(zones.zones), path)
    return seeded
