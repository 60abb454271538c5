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
a camera was at the time of an event. ``unit_areas`` puts a unit in the
rollout area it patrols (``{"patroli-1" = "beruang_madu"}``): its events then
take that area's mode.

Ticketing (``[plugins.polri_etle.ticketing]``, docs/etle.md): a sink turns
verified violations of Polri's cameras in enforcement areas into tickets, looks
the owner up (:mod:`plugins.polri_etle.registry`), writes the confirmation
letter (:mod:`plugins.polri_etle.letter`), and a job raises registration-block
requests at H+8 and H+15 (:mod:`plugins.polri_etle.tickets`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import Field

from core.clock import Clock, SystemClock
from core.config import AreaRef
from core.drivers.fleet import build_fleet, numbering
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, Capability, Job, ModelSet
from core.inventory import StreamOverride, StreamSettings
from plugins.polri_etle import letter as letters
from plugins.polri_etle.api import PolriApi
from plugins.polri_etle.fixes import Fix, prune_track, tracked_position
from plugins.polri_etle.inventory import CameraEntry, read_inventory
from plugins.polri_etle.models import BlockRequest, Ticket
from plugins.polri_etle.registry import DEMO_REGISTRY, DemoRegistry
from plugins.polri_etle.sink import EtleSink
from plugins.polri_etle.ticket_config import Ticketing
from plugins.polri_etle.ticket_states import STATES
from plugins.polri_etle.tickets import Capture, TicketDesk
from plugins.polri_etle.tickets_api import TicketsApi
from plugins.polri_etle.units import MobileUnits


class Config(StreamSettings):
    gps_stale_after_s: float = Field(default=60.0, gt=0)
    cameras: dict[str, StreamOverride] = {}
    unit_areas: dict[str, AreaRef] = {}  # mobile unit -> the rollout area it patrols
    ticketing: Ticketing = Field(default={}, validate_default=True)  # validated: the font check runs


class PolriEtle:
    Config = Config
    name = "polri_etle"

    def __init__(self, config: Config, context, clock: Clock | None = None) -> None:
        inventory = read_inventory()
        self._fleet = build_fleet(inventory.cameras, config, config.cameras, context.deployment, _fields)
        self.config = config
        self.entries = inventory.cameras
        self.units = {c.unit: c.id for c in self.entries if c.unit}  # unit -> camera id
        strange = sorted(set(config.unit_areas) - set(self.units))
        if strange:
            raise ValueError(f"unit_areas: unknown mobile unit(s) {', '.join(strange)} (known: {', '.join(sorted(self.units))})")
        self.mobile = MobileUnits(self.units, config.gps_stale_after_s, self.now)
        self.api = PolriApi(self.mobile)
        self.clock = clock or SystemClock()
        self.context = context
        self.sink = EtleSink()
        self.sink.enabled = config.ticketing.enabled
        self.tickets = TicketsApi()
        self.desk: TicketDesk | None = None

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    # --- core.interfaces.CameraDriver ------------------------------------------------------

    async def cameras(self) -> list[CameraInfo]:
        return [
            self._fleet.info(
                self._patrolling(c), agency="polri", driver=self.name,
                capabilities=frozenset({Capability.MOBILE}) if c.mobile else frozenset(),
            )
            for c in self.entries
        ]

    def _patrolling(self, c: CameraEntry) -> CameraEntry:
        """A mobile camera takes the area its unit patrols, when the deployment says one."""
        area = self.config.unit_areas.get(c.unit) if c.unit else None
        return c.model_copy(update={"area": area}) if area else c

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

    async def capture_of(self, services, camera_id: str, when: datetime) -> Capture:
        """Where a violation was captured, for its letter: the camera's name and area, and its position
        (a mobile unit's GPS fix nearest the moment of capture, from the unit's track)."""
        info = services.cameras.info(camera_id)
        name = info.name if info else camera_id
        area = services.deployment.areas.get(info.area) if info and info.area else None
        place = name + (f", kawasan {area.name}" if area else "")
        entry = next((c for c in self.entries if c.id == camera_id), None)
        if entry is not None and entry.mobile:
            found = await tracked_position(entry.unit, when, self.config.gps_stale_after_s)
            if found is None:
                return Capture(place, None, None, "unknown", entry.unit)
            lat, lon, at = found
            return Capture(place, lat, lon, "gps", entry.unit, at)
        if info is not None and info.lat is not None and info.lon is not None:
            return Capture(place, info.lat, info.lon, "camera")
        return Capture(place, None, None, "unknown")

    async def _tick(self) -> None:
        """The ticketing job: retry waiting lookups and unwritten letters, raise block requests, prune the track,
        erase the personal data of cases long ended."""
        if self.desk is None or not self.config.ticketing.enabled:
            return
        await self.desk.run_due()
        await self.desk.check_deadlines()
        await prune_track(self.desk.now() - timedelta(days=self.config.ticketing.track_days))
        await self.desk.erase_ended()

    # --- hooks -----------------------------------------------------------------------------

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)

    @hookimpl
    def bconnect_register_models(self, register):
        register(ModelSet(app="polri_etle", models="plugins.polri_etle.models", migrations="plugins.polri_etle.migrations"))

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in [*self.api.routes(), *self.tickets.routes()]:
            register(route)

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(self.sink)

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="tickets", func=self._tick, seconds=self.config.ticketing.check_s))

    @hookimpl
    async def bconnect_startup(self, services):
        await self.mobile.start()
        cfg = self.config.ticketing
        registry = DemoRegistry(cfg.registry_file or DEMO_REGISTRY)
        desk = TicketDesk(cfg, registry, services.data_dir, self.clock,
                          lambda camera, when: self.capture_of(services, camera, when), services.violations)
        if cfg.enabled:
            gone = await asyncio.to_thread(letters.remove_leftovers, services.data_dir / cfg.letters_dir)
            if gone:
                self.context.log.info("ETLE: removed %d unfinished letter files a crash left", gone)
            await desk.run_due()  # letters a crash interrupted are written now, once
        self.desk = desk
        self.sink.desk = desk
        self.tickets.desk = desk

    @hookimpl
    async def bconnect_shutdown(self, services):
        desk, self.desk = self.desk, None
        self.sink.desk = self.tickets.desk = None
        if desk is not None:
            await desk.close()

    @hookimpl
    async def bconnect_health(self, services):
        stale = self.mobile.without_recent_fix()
        # a unit parked without GPS is normal: reported, not a degradation
        report: dict[str, Any] = {"status": "ok", "mobile_units": len(self.units), "units_without_recent_fix": stale}
        if self.desk is not None and self.config.ticketing.enabled:
            report["tickets"] = {s: await Ticket.filter(state=s).count() for s in STATES}
            report["active_blocks"] = await BlockRequest.filter(lifted_at=None).count()
        return report


def _fields(c: CameraEntry, fleet: list[CameraEntry]) -> dict[str, object]:
    return {**numbering(c, fleet, lambda x: x.kind), "kind": c.kind}
