"""The zones of every camera, stored in the database and held in memory for the rules.

:class:`ZoneStore` is the only writer of the ``zones`` table
(:class:`core.models.ZoneRow`). A camera's zones are saved as one set, with a
version: a save names the version it was based on, and a save based on an
older one is refused with :class:`ZoneConflict` (someone else saved in
between), so two operators editing the same camera never silently overwrite
each other. What is saved is what :class:`core.analytics.zones.CameraZones`
validated; the store adds no rules of its own.

Rules read zones many times a second from worker threads, so the store keeps
every camera's current set in memory (a few hundred zones for a city):
:meth:`ZoneStore.zones` and :meth:`ZoneStore.active` never touch the
database and are safe from any thread. Plugins see them through the
read-only :class:`core.services.ZoneDirectory`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.analytics.zones import CameraZones, Zone
from core.models import ZoneRow

log = logging.getLogger("bconnect.zones")

HEADER = ""  # the zone_id of a camera's header row


class ZoneConflict(Exception):
    """A save based on a version that is no longer the camera's current one (HTTP 409)."""

    def __init__(self, reason: str, current: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.current = current


@dataclass(frozen=True)
class StoredZones:
    """A camera's zones with their version; ``version`` 0: never saved."""

    zones: CameraZones
    version: int = 0
    updated_by: str | None = None
    updated_at: datetime | None = None


class ZoneStore:
    """Loads, saves and serves the zones of every camera (one per app)."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone  # the deployment's: zones' windows are in local time
        self._sets: dict[str, StoredZones] = {}
        self._lock = asyncio.Lock()  # one save at a time in this process; the version check covers others
        self._listeners: list[Callable[[StoredZones], None]] = []

    # --- reading (any thread, no database) ------------------------------------

    def stored(self, camera_id: str) -> StoredZones:
        """The camera's current set (empty, version 0, when it has none)."""
        return self._sets.get(camera_id) or StoredZones(CameraZones(camera=camera_id))

    def zones(self, camera_id: str, preset: str | None) -> tuple[Zone, ...]:
        """The zones of one view: a preset's, or a fixed camera's (``preset=None``)."""
        found = self._sets.get(camera_id)
        return found.zones.for_preset(preset) if found is not None else ()

    def active(self, camera_id: str, preset: str | None, when: datetime | None = None) -> tuple[Zone, ...]:
        """The view's zones that apply at ``when`` (aware; default now) in the deployment's local time."""
        moment = when if when is not None else datetime.now(UTC)
        return tuple(z for z in self.zones(camera_id, preset) if z.active_at(moment, self.timezone))

    def version(self, camera_id: str) -> int:
        found = self._sets.get(camera_id)
        return found.version if found is not None else 0

    def subscribe(self, listener: Callable[[StoredZones], None]) -> Callable[[], None]:
        """Hear every saved set (on the event loop); returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- the database -----------------------------------------------------------

    async def load_all(self) -> None:
        """Read every camera's zones (at start-up, once the database is open)."""
        rows = await ZoneRow.all().order_by("camera_id", "position")
        by_camera: dict[str, list[ZoneRow]] = {}
        for row in rows:
            by_camera.setdefault(row.camera_id, []).append(row)
        self._sets = {camera: _from_rows(camera, rows) for camera, rows in by_camera.items()}

    async def load(self, camera_id: str) -> StoredZones:
        """The camera's zones as stored now (read from the database, and remembered)."""
        rows = await ZoneRow.filter(camera_id=camera_id).order_by("position")
        stored = _from_rows(camera_id, rows) if rows else StoredZones(CameraZones(camera=camera_id))
        if rows:
            self._sets[camera_id] = stored
        return stored

    async def save(self, zones: CameraZones, *, base_version: int, by: str) -> StoredZones:
        """Replace all zones of ``zones.camera``; :class:`ZoneConflict` if ``base_version`` is not current."""
        camera_id = zones.camera
        async with self._lock:
            now = datetime.now(UTC)
            try:
                async with in_transaction():
                    version = await _claim_version(camera_id, base_version, by, now)
                    await ZoneRow.filter(camera_id=camera_id).exclude(zone_id=HEADER).delete()
                    await ZoneRow.bulk_create(
                        [
                            ZoneRow(
                                camera_id=camera_id,
                                zone_id=zone.id,
                                preset=zone.preset,
                                position=i,
                                zone=zone.model_dump(mode="json"),
                                version=version,
                                updated_by=by,
                                updated_at=now,
                            )
                            for i, zone in enumerate(zones.zones)
                        ]
                    )
            except IntegrityError:  # another process made the header first
                current = (await self.load(camera_id)).version
                raise ZoneConflict(_conflict(camera_id, base_version, current), current) from None
            stored = StoredZones(zones, version, by, now)
            self._sets[camera_id] = stored
        for listener in list(self._listeners):
            try:
                listener(stored)
            except Exception:  # a listener's failure must not turn a stored save into an error
                log.exception("zones: a listener failed on camera %s's revision %d", camera_id, version)
        return stored


async def _claim_version(camera_id: str, base_version: int, by: str, now: datetime) -> int:
    """Move the header from ``base_version`` to the next; the check and the write are one UPDATE."""
    if base_version == 0:
        if await ZoneRow.filter(camera_id=camera_id, zone_id=HEADER).exists():
            current = await _current(camera_id)
            raise ZoneConflict(_conflict(camera_id, base_version, current), current)
        await ZoneRow.create(camera_id=camera_id, zone_id=HEADER, version=1, updated_by=by, updated_at=now)
        return 1
    changed = await ZoneRow.filter(camera_id=camera_id, zone_id=HEADER, version=base_version).update(
        version=base_version + 1, updated_by=by, updated_at=now
    )
    if changed != 1:
        current = await _current(camera_id)
        raise ZoneConflict(_conflict(camera_id, base_version, current), current)
    return base_version + 1


async def _current(camera_id: str) -> int:
    header = await ZoneRow.get_or_none(camera_id=camera_id, zone_id=HEADER)
    return header.version if header is not None else 0


def _conflict(camera_id: str, base: int, current: int) -> str:
    if current == 0:
        return f"camera {camera_id} has no zones saved yet, but the edit was based on version {base}: reload them"
    return (
        f"the zones of camera {camera_id} are at version {current}, the edit was based on version {base}: "
        "someone saved in between; reload them and edit again"
    )


def _from_rows(camera_id: str, rows: list[ZoneRow]) -> StoredZones:
    header = next((r for r in rows if r.zone_id == HEADER), None)
    zones = []
    for row in rows:
        if row.zone_id == HEADER:
            continue
        try:
            zones.append(Zone.model_validate(row.zone))
        except ValueError as exc:  # stored by an older version with looser rules: kept in the table, not used
            log.warning("zone %s of camera %s is not valid any more, left out: %s", row.zone_id, camera_id, exc)
    camera = CameraZones(camera=camera_id, zones=tuple(zones))
    if header is None:  # rows written without a header cannot come from this store; show them anyway
        return StoredZones(camera)
    return StoredZones(camera, header.version, header.updated_by, header.updated_at)
