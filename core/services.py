"""The services of one running app, built by the app factory and passed in.

No module-level state: tests build as many apps as they like side by side.

Two views of them:

* :class:`Services`, the core's own: the plugin host, the camera registry with
  its muxes and ingests, the scheduler. Only the core's built-in plugins get it.
* :class:`PluginServices`, what every deployment plugin gets in
  ``bconnect_startup``, ``bconnect_shutdown`` and ``bconnect_health``: the
  deployment and small read-only protocols, :class:`CameraDirectory`,
  :class:`PtzArbiter`, :class:`EvidenceStore`, :class:`ZoneDirectory` and :class:`SecondLook`. A plugin can use the core's
  services through them but cannot reach (or break) what is behind them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.analytics.plates import PLATE_READER_HOOK, PlateReading, PlateService
from core.analytics.zone_store import ZoneStore
from core.config import Deployment
from core.interfaces import CameraInfo, Preset
from core.media.packets import CameraStatus
from core.metrics import Metrics
from core.plugin_host import PluginHost
from core.ptz.service import PtzService

if TYPE_CHECKING:
    from core.analytics.zones import Zone
    from core.analytics.runner import AnalyticsRunner
    from core.media.clips import Clip, ClipWriter
    from core.media.frames import FrameHub
    from core.media.registry import CameraRegistry
    from core.media.transcode import TranscodeHub
    from core.ptz.service import ActivePreset, ManualLock, PresetChanged, ProposedTour
    from core.events.bus import EventBus
    from core.events.live import Subscription
    from core.events.store import StoredEvent
    from core.events.types import Event
    from core.scheduler import Scheduler
    from core.violations.service import ViolationService


@runtime_checkable
class CameraDirectory(Protocol):
    """The cameras of this deployment, as their drivers described them."""

    def ids(self) -> list[str]:
        """Every camera id, sorted."""
        ...

    def info(self, camera_id: str) -> CameraInfo | None:
        """The camera's description, or ``None`` for an unknown id."""
        ...

    def plugin_of(self, camera_id: str) -> str | None:
        """The plugin whose driver offers the camera, or ``None`` for an unknown id."""
        ...

    def status(self, camera_id: str) -> CameraStatus | None:
        """The camera's ingest status now (state, reason, since), or ``None`` for an unknown id."""
        ...


@runtime_checkable
class PtzArbiter(Protocol):
    """The core's PTZ service as plugins see it: one arbiter of every PTZ command.

    A plugin's command (``by=None``) never takes the manual-control lock and is
    refused with :class:`core.ptz.service.Locked` while an operator holds it.
    Other failures raise :class:`core.ptz.service.PtzError` with the reason.
    """

    def camera_ids(self) -> list[str]: ...

    def has(self, camera_id: str) -> bool: ...

    def presets(self, camera_id: str) -> tuple[Preset, ...]: ...

    def active(self, camera_id: str) -> ActivePreset: ...

    def preset_of(self, camera_id: str) -> str | None:
        """The preset the camera is on now (``None``: fixed, off preset or unknown)."""
        ...

    def lock(self, camera_id: str) -> ManualLock | None:
        """The operator's manual-control lock, while one holds."""
        ...

    def subscribe(self, listener: Callable[[PresetChanged], None], plugin: str = "core") -> Callable[[], None]:
        """Hear every change of a camera's active preset; returns the unsubscribe function."""
        ...

    async def goto_preset(self, camera_id: str, preset_id: str, by: str | None) -> None: ...

    def proposed_tours(self) -> tuple[ProposedTour, ...]:
        """The patrol tours the drivers proposed, checked against the cameras' presets."""
        ...

    def add_state_field(self, name: str, describe: Callable[[str], Any], plugin: str = "core") -> None:
        """Show ``describe(camera_id)`` as ``name`` in the camera's PTZ state (``GET .../ptz``)."""
        ...


@runtime_checkable
class EvidenceStore(Protocol):
    """Cuts evidence clips out of a camera's recent video."""

    async def cut(self, camera_id: str, *, pre_s: float = 5.0, post_s: float = 5.0, name: str | None = None) -> Clip:
        """An MP4 from ``pre_s`` before now to ``post_s`` after, with its SHA-256."""
        ...


@runtime_checkable
class EventChannel(Protocol):
    """The core's event bus as plugins see it: publish an event, read one back, follow them live."""

    async def publish(self, event: Event) -> Event:
        """Store the event (the core fills in its camera's agency, area and mode), then deliver it to
        the sinks and the live stream; returns the event as stored."""
        ...

    async def get(self, event_id: str) -> StoredEvent | None:
        """A stored event with its acknowledgement, or ``None`` for an unknown id."""
        ...

    def subscribe(self) -> Subscription:
        """Live messages (``event`` or ``ack``) from now on; call ``close()`` when done."""
        ...


@runtime_checkable
class ZoneDirectory(Protocol):
    """The analytics zones operators drew, per camera and PTZ preset; read from memory, safe from any thread."""

    def zones(self, camera_id: str, preset: str | None) -> tuple[Zone, ...]:
        """The zones of one view: a preset's, or a fixed camera's (``preset=None``)."""
        ...

    def active(self, camera_id: str, preset: str | None, when: datetime | None = None) -> tuple[Zone, ...]:
        """The view's zones that apply at ``when`` (aware; default now), in the deployment's local time."""
        ...

    def version(self, camera_id: str) -> int:
        """The camera's zone-set version (0: none saved); it grows with every save."""
        ...


@runtime_checkable
class ViolationDesk(Protocol):
    """The violation workflow as sinks see it: read a violation, close the case when the sink is done.

    Violations are described as ``GET /api/violations/{id}`` shows them. A move the workflow does not
    allow raises :class:`core.errors.Refused` with the reason (and its HTTP status).
    """

    async def get(self, violation_id: int) -> dict[str, Any] | None:
        """The violation, or ``None`` for an unknown id."""
        ...

    async def close(self, violation_id: int, by: str, note: str) -> dict[str, Any]:
        """Close a case the sinks have finished (``handed_to_sink`` -> ``closed``), recorded as ``by``
        with ``note``; returns the violation as closed."""
        ...


@runtime_checkable
class PlateReaders(Protocol):
    """Plate reading as analyzers see it (:class:`core.analytics.plates.PlateService`): the reader a plugin
    registered, bounded in time, its failures contained."""

    @property
    def available(self) -> bool:
        """Whether a plugin registered a reader."""
        ...

    async def read(self, crops: list[Any], vehicle_class: str | None) -> PlateReading | None:
        """Read one vehicle's plate from pictures of its track (H x W x 3 uint8 RGB, the best first);
        ``None`` when there is no reader or it failed, was busy or too slow: an officer types the plate."""
        ...


@runtime_checkable
class SecondLook(Protocol):
    """The deployment's detector, for an analyzer that looks again at part of a frame (a crop, turned).

    The core runs the detector on every analysed frame and hands analyzers the
    tracks; an analyzer that must see what the whole frame did not show (a
    person lying on the road, whom a detector trained on upright people
    misses) asks for a second look here, sharing the detector's batches and
    its bound: a saturated detector raises
    :class:`core.analytics.detector.FramesDropped`, never queues.
    """

    @property
    def available(self) -> bool:
        """Whether the deployment has a detector."""
        ...

    async def detect(self, images: list[Any]) -> list[list[Any]] | None:
        """Detections (``core.analytics.detector.Detection``, in each image's pixels) per image
        (H x W x 3 uint8 RGB); ``None`` when the deployment has no detector."""
        ...


@dataclass(frozen=True)
class PluginServices:
    """What a deployment plugin gets: facts and read-only services, no core internals."""

    deployment: Deployment
    data_dir: Path
    cameras: CameraDirectory
    ptz: PtzArbiter
    clips: EvidenceStore
    events: EventChannel
    zones: ZoneDirectory
    violations: ViolationDesk | None = None
    plates: PlateReaders = field(default_factory=PlateService)  # no reader unless a plugin registered one
    detector: SecondLook | None = None  # the deployment's detector, for a second look at part of a frame


@dataclass
class Services:
    deployment: Deployment
    config_path: Path
    plugins: PluginHost
    data_dir: Path
    metrics: Metrics
    scheduler: Scheduler | None = None
    started_at: float | None = None
    # set by the media core at start-up (a core plugin, registered before any deployment plugin)
    cameras: CameraRegistry | None = None
    clips: ClipWriter | None = None
    transcodes: TranscodeHub | None = None  # what viewers are sent transcoded
    events: EventBus | None = None  # set by the events core plugin at start-up
    violations: ViolationService | None = None  # set by the violations core plugin at start-up
    # set by the analytics core plugin at start-up
    frames: FrameHub | None = None
    analytics: AnalyticsRunner | None = None
    # exists from the start, empty; the PTZ core plugin loads the drivers' cameras into it
    ptz: PtzService = field(init=False)
    # exists from the start, empty; the core plugin loads it once the database is open
    zones: ZoneStore = field(init=False)
    _public: PluginServices | None = field(default=None, init=False, repr=False)
    _plates: PlateService | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ptz = PtzService(self.plugins)
        self.zones = ZoneStore(self.deployment.deployment.timezone)

    def plates(self) -> PlateService:
        """The plate readers plugins registered, as one service (built once)."""
        if self._plates is None:
            self._plates = PlateService.from_registered(
                self.plugins.registered.get(PLATE_READER_HOOK, []), self.plugins.report_failure
            )
        return self._plates

    def public(self) -> PluginServices:
        """The view deployment plugins get (the plugin host hands it to them)."""
        if self._public is None:
            self._public = PluginServices(
                deployment=self.deployment,
                data_dir=self.data_dir,
                cameras=_Directory(self),
                ptz=_Arbiter(self.ptz),
                clips=_Evidence(self),
                events=_Events(self),
                zones=_Zones(self.zones),
                violations=_Desk(self),
                plates=self.plates(),
                detector=DetectorLook(lambda: self.analytics.detector if self.analytics is not None else None),
            )
        return self._public


class _Directory:
    """:class:`CameraDirectory` over the camera registry, read when asked."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def _runtime(self, camera_id: str) -> Any:
        registry = self._services.cameras
        return registry.get(camera_id) if registry is not None else None

    def ids(self) -> list[str]:
        registry = self._services.cameras
        return sorted(r.id for r in registry.all()) if registry is not None else []

    def info(self, camera_id: str) -> CameraInfo | None:
        runtime = self._runtime(camera_id)
        return runtime.info if runtime is not None else None

    def plugin_of(self, camera_id: str) -> str | None:
        runtime = self._runtime(camera_id)
        return runtime.plugin if runtime is not None else None

    def status(self, camera_id: str) -> CameraStatus | None:
        runtime = self._runtime(camera_id)
        return runtime.status if runtime is not None else None


class _Arbiter:
    """:class:`PtzArbiter` over the PTZ service: its public face only, not ``add_camera`` and the like."""

    def __init__(self, ptz: PtzService) -> None:
        self._ptz = ptz

    def camera_ids(self) -> list[str]:
        return self._ptz.camera_ids()

    def has(self, camera_id: str) -> bool:
        return self._ptz.has(camera_id)

    def presets(self, camera_id: str) -> tuple[Preset, ...]:
        return self._ptz.presets(camera_id)

    def active(self, camera_id: str) -> ActivePreset:
        return self._ptz.active(camera_id)

    def preset_of(self, camera_id: str) -> str | None:
        return self._ptz.preset_of(camera_id)

    def lock(self, camera_id: str) -> ManualLock | None:
        return self._ptz.lock(camera_id)

    def subscribe(self, listener: Callable[[PresetChanged], None], plugin: str = "core") -> Callable[[], None]:
        return self._ptz.subscribe(listener, plugin)

    async def goto_preset(self, camera_id: str, preset_id: str, by: str | None) -> None:
        await self._ptz.goto_preset(camera_id, preset_id, by)

    def proposed_tours(self) -> tuple[ProposedTour, ...]:
        return self._ptz.proposed_tours()

    def add_state_field(self, name: str, describe: Callable[[str], Any], plugin: str = "core") -> None:
        self._ptz.add_state_field(name, describe, plugin)


class _Evidence:
    """:class:`EvidenceStore` over the media core's clip writer."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def cut(self, camera_id: str, *, pre_s: float = 5.0, post_s: float = 5.0, name: str | None = None) -> Clip:
        from core.media.clip_jobs import READY, _facts, file_stem, new_clip_id
        from core.models import EvidenceClip

        clips = self._services.clips
        if clips is None:
            raise RuntimeError("clips: the media core has not started")
        clip_id = new_clip_id()
        stem = name or file_stem(camera_id, clip_id, time.time())
        clip = await clips.cut(camera_id, pre_s=pre_s, post_s=post_s, name=stem)
        # listed with the operators' clips (GET /api/clips/{id}), so that an event's clip_id leads to it
        runtime = self._services.cameras.get(camera_id) if self._services.cameras is not None else None
        await EvidenceClip.create(
            id=clip_id, camera_id=camera_id, agency=runtime.info.agency if runtime is not None else "",
            created_by="analytics", note="evidence of an analytics event", status=READY, pre_s=pre_s, post_s=post_s,
            file=clip.path.name, finished_at=datetime.now(UTC), **_facts(clip.to_json()),
        )
        return dataclasses.replace(clip, id=clip_id)


class _Events:
    """:class:`EventChannel` over the event bus, read when asked (it starts with the events core plugin)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def _bus(self) -> EventBus:
        bus = self._services.events
        if bus is None:
            raise RuntimeError("events: the events core has not started")
        return bus

    async def publish(self, event: Event) -> Event:
        return await self._bus().publish(event)

    async def get(self, event_id: str) -> StoredEvent | None:
        return await self._bus().get(event_id)

    def subscribe(self) -> Subscription:
        return self._bus().subscribe()


class DetectorLook:
    """:class:`SecondLook` over whichever detector ``current()`` answers when asked (``None``: none)."""

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current

    @property
    def available(self) -> bool:
        return self._current() is not None

    async def detect(self, images: list[Any]) -> list[list[Any]] | None:
        detector = self._current()
        if detector is None:
            return None
        return await detector.detect(images)


class _Zones:
    """:class:`ZoneDirectory` over the zone store: reading only, never ``save``."""

    def __init__(self, store: ZoneStore) -> None:
        self._store = store

    def zones(self, camera_id: str, preset: str | None) -> tuple[Zone, ...]:
        return self._store.zones(camera_id, preset)

    def active(self, camera_id: str, preset: str | None, when: datetime | None = None) -> tuple[Zone, ...]:
        return self._store.active(camera_id, preset, when)

    def version(self, camera_id: str) -> int:
        return self._store.version(camera_id)


class _Desk:
    """:class:`ViolationDesk` over the violation service, read when asked (it starts with its core plugin)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def _service(self) -> ViolationService:
        service = self._services.violations
        if service is None:
            raise RuntimeError("violations: the violation workflow has not started")
        return service

    async def get(self, violation_id: int) -> dict[str, Any] | None:
        from core.violations.api import describe
        from core.violations.models import Violation

        service = self._service()
        v = await Violation.get_or_none(id=violation_id)
        return describe(service, v) if v is not None else None

    async def close(self, violation_id: int, by: str, note: str) -> dict[str, Any]:
        from core.errors import Refused
        from core.violations.api import describe
        from core.violations.models import Violation

        service = self._service()
        v = await Violation.get_or_none(id=violation_id)
        if v is None:
            raise Refused(404, f"violation {violation_id} does not exist")
        return describe(service, await service.close(v, by, note))
