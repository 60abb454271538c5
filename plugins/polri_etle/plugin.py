"""Polri CCTV and ETLE cameras (camera side): 10 CCTV and 6 ETLE, static and mobile.

The fleet is data (``inventory.toml``, placeholder names and positions); the
streams come from the deployment::

    [plugins.polri_etle]
    url_template = "rtsp://cam-{number}.polri.invalid:554/live/main"
    username = "bconnect"
    password = "..."
    gps_stale_after_s = 60          # an older fix no longer says where a unit is

    [plugins.polri_etle.cameras.polri-mobile-1]   # one camera's exceptions
    url = "rtsps://mobile-1.polri.example:8554/live"

Template fields: ``id``, ``kind`` (cctv or etle), ``number`` (1..16, inventory
order), ``index`` (1.. within its kind). Mobile cameras ride in patrol units
that report GPS fixes through the API in :mod:`plugins.polri_etle.api`; the
latest fix of each unit is kept, and :meth:`PolriEtle.position_at` says where
a camera was at the time of an event. The ticketing side comes later.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import Field

from core.drivers.fleet import build_fleet, numbering
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, Capability, ModelSet
from core.inventory import StreamOverride, StreamSettings
from plugins.polri_etle.api import PolriApi
from plugins.polri_etle.fixes import Fix
from plugins.polri_etle.inventory import CameraEntry, read_inventory
from plugins.polri_etle.units import MobileUnits


class Config(StreamSettings):
    gps_stale_after_s: float = Field(default=60.0, gt=0)
    cameras: dict[str, StreamOverride] = {}


class PolriEtle:
    Config = Config
    name = "polri_etle"

    def __init__(self, config: Config, context) -> None:
        inventory = read_inventory()
        self._fleet = build_fleet(inventory.cameras, config, config.cameras, context.deployment, _fields)
        self.config = config
        self.entries = inventory.cameras
        self.units = {c.unit: c.id for c in self.entries if c.unit}  # unit -> camera id
        self.mobile = MobileUnits(self.units, config.gps_stale_after_s, self.now)
        self.api = PolriApi(self.mobile)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    # --- core.interfaces.CameraDriver ------------------------------------------------------

    async def cameras(self) -> list[CameraInfo]:
        return [
            self._fleet.info(
                c, agency="polri", driver=self.name, capabilities=frozenset({Capability.MOBILE}) if c.mobile else frozenset()
            )
            for c in self.entries
        ]

    # --- positions -------------------------------------------------------------------------

    def position_at(self, camera_id: str, when: datetime) -> tuple[float, float] | None:
        """Where a camera was at ``when``: a static camera's place, a mobile one's
        fix near that time, or ``None`` when a mobile unit's position is unknown."""
        entry = next((c for c in self.entries if c.id == camera_id), None)
        if entry is None:
            return None
        if not entry.mobile:
            return (entry.lat, entry.lon)
        fix: Fix | None = self.mobile.position_at(entry.unit, when)
        return (fix.lat, fix.lon) if fix else None

    # --- hooks -----------------------------------------------------------------------------

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)

    @hookimpl
    def bconnect_register_models(self, register):
        register(ModelSet(app="polri_etle", models="plugins.polri_etle.models", migrations="plugins.polri_etle.migrations"))

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.api.routes():
            register(route)

    @hookimpl
    async def bconnect_startup(self, services):
        await self.mobile.start()

    @hookimpl
    def bconnect_health(self, services):
        stale = self.mobile.without_recent_fix()
        # a unit parked without GPS is normal: reported, not a degradation
        return {"status": "ok", "mobile_units": len(self.units), "units_without_recent_fix": stale}


def _fields(c: CameraEntry, fleet: list[CameraEntry]) -> dict[str, object]:
    return {**numbering(c, fleet, lambda x: x.kind), "kind": c.kind}
