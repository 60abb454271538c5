"""PTZ control: command routing, the manual-control lock, the active preset.

Every PTZ command, from an operator or a patrol tour, goes through one
:class:`PtzService` per app. It

* routes the command to the camera's :class:`core.interfaces.PtzControl`,
  one command at a time per camera, each bounded by a timeout;
* keeps a **manual-control lock** per camera: an operator's command takes (or
  renews) the lock for the driver's timeout; while it holds, other operators
  are refused and patrol tours pause; when it expires, tours resume;
* knows the **active preset** of every camera at every moment (``None`` when the
  camera is off any preset, e.g. after a manual move or a failed command),
  because analytics zones belong to a preset; listeners hear each change;
* reports a failing command against the driver's plugin (degraded in health)
  and answers with the reason; the camera's stream is never touched;
* keeps the **patrol tours the drivers propose** (:class:`core.interfaces.TourDriver`),
  checked against the camera's presets, for whichever plugin runs them.

Plugins see it as :class:`core.services.PtzArbiter`. The HTTP API is in
:mod:`core.ptz.api`, the wiring in :mod:`core.ptz.plugin`; running patrol tours
is a policy, so it is a plugin (``plugins/patrol_tours``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock, SystemClock
from core.interfaces import CameraInfo, Preset, PtzControl, PtzDriver, TourDriver, TourPlan
from core.plugin_host import PluginHost

log = logging.getLogger("bconnect.ptz")

DEFAULT_MANUAL_TIMEOUT_S = 120.0
DEFAULT_COMMAND_TIMEOUT_S = 10.0
DRIVER_LOAD_TIMEOUT_S = 20.0


class PtzError(Exception):
    """A refused or failed PTZ request; ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownCamera(PtzError):
    status = 404


class UnknownPreset(PtzError):
    status = 404


class Locked(PtzError):
    status = 409


class CommandFailed(PtzError):
    status = 502


@dataclass(frozen=True)
class ManualLock:
    camera_id: str
    owner: str
    acquired_at: float  # clock.monotonic()
    expires_at: float  # clock.monotonic()


@dataclass(frozen=True)
class ActivePreset:
    """Where a camera points: a preset, or ``None`` (off preset or unknown)."""

    camera_id: str
    preset_id: str | None
    source: str  # "tour", "manual" or "start"
    since: float  # clock.time()


@dataclass(frozen=True)
class PresetChanged:
    """Sent to listeners whenever a camera's active preset changes."""

    camera_id: str
    preset_id: str | None
    previous: str | None
    source: str
    at: float  # clock.time()


@dataclass(frozen=True)
class CommandError:
    op: str
    reason: str
    at: float  # clock.time()


@dataclass
class _Camera:
    plugin: str
    info: CameraInfo
    control: PtzControl
    manual_timeout_s: float
    presets: tuple[Preset, ...]
    active: ActivePreset
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    lock: ManualLock | None = None
    last_error: CommandError | None = None
    commands: int = 0
    failures: int = 0


@dataclass(frozen=True)
class ProposedTour:
    """A patrol tour a driver proposed; every stop names one of the camera's presets."""

    plugin: str  # the driver's plugin
    plan: TourPlan


Listener = Callable[[PresetChanged], None]
StateField = Callable[[str], Any]  # camera id -> a JSON value


class PtzService:
    def __init__(
        self,
        host: PluginHost | None = None,
        clock: Clock | None = None,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
    ) -> None:
        self._host = host
        self.clock: Clock = clock or SystemClock()
        self.command_timeout_s = command_timeout_s
        self._cameras: dict[str, _Camera] = {}
        self._listeners: list[tuple[str, Listener]] = []
        self._fields: dict[str, tuple[str, StateField]] = {}
        self._tours: list[ProposedTour] = []

    # --- set-up --------------------------------------------------------------

    def add_camera(
        self,
        plugin: str,
        info: CameraInfo,
        control: PtzControl,
        manual_timeout_s: float = DEFAULT_MANUAL_TIMEOUT_S,
    ) -> None:
        if info.id in self._cameras:
            raise ValueError(f"camera {info.id!r} has PTZ from {self._cameras[info.id].plugin} already")
        start = ActivePreset(info.id, None, "start", self.clock.time())
        self._cameras[info.id] = _Camera(plugin, info, control, manual_timeout_s, info.presets, start)

    async def load_drivers(
        self,
        drivers: list[tuple[str, Any]],
        known: dict[tuple[str, str], list[CameraInfo]] | None = None,
        timeout_s: float = DRIVER_LOAD_TIMEOUT_S,
    ) -> None:
        """Take the PTZ cameras of every driver that has some, then the tours they propose.

        ``known`` maps ``(plugin, driver name)`` to the cameras the camera
        registry already listed, so drivers are not asked twice. Otherwise
        drivers are asked in parallel, each bounded by ``timeout_s``; one that
        fails or hangs is reported and the others still load.
        """

        async def one(plugin: str, driver: Any) -> None:
            if known is not None:
                cameras = known.get((plugin, driver.name), [])
            else:
                try:
                    cameras = await asyncio.wait_for(driver.cameras(), timeout_s)
                except Exception as exc:
                    self.report(plugin, f"ptz: cameras() of driver {driver.name}", _timeout_reason(exc, timeout_s))
                    return
            timeout = float(getattr(driver, "manual_control_timeout_s", DEFAULT_MANUAL_TIMEOUT_S))
            for info in cameras:
                try:
                    control = driver.ptz(info.id)
                    if control is not None:
                        self.add_camera(plugin, info, control, timeout)
                except Exception as exc:
                    self.report(plugin, f"ptz: camera {info.id}", exc)

        ptz_drivers = [(p, d) for p, d in drivers if isinstance(d, PtzDriver)]
        await asyncio.gather(*(one(p, d) for p, d in ptz_drivers))
        for plugin, driver in ptz_drivers:
            if isinstance(driver, TourDriver):
                try:
                    plans = driver.tours()
                except Exception as exc:
                    self.report(plugin, "tours()", exc)
                    continue
                for plan in plans:
                    self.propose_tour(plugin, plan)

    def propose_tour(self, plugin: str, plan: TourPlan) -> None:
        """Keep a driver's tour plan; stops naming unknown presets are reported and dropped."""
        cam = self._cameras.get(plan.camera_id)
        if cam is None:
            self.report(plugin, f"tour of {plan.camera_id}", ValueError(f"no PTZ camera {plan.camera_id!r}"))
            return
        presets = {p.id for p in cam.presets}
        dropped = [s.preset_id for s in plan.stops if s.preset_id not in presets]
        if dropped:
            self.report(plugin, f"tour of {plan.camera_id}", ValueError(f"unknown presets dropped: {', '.join(dropped)}"))
        stops = tuple(s for s in plan.stops if s.preset_id in presets)
        if stops:
            self._tours.append(ProposedTour(plugin, TourPlan(plan.camera_id, stops, plan.enabled)))

    def proposed_tours(self) -> tuple[ProposedTour, ...]:
        """The patrol tours the drivers proposed, checked against each camera's presets."""
        return tuple(self._tours)

    def add_state_field(self, name: str, describe: StateField, plugin: str = "core") -> None:
        """Add ``name`` to every camera's :meth:`state`: ``describe(camera_id)``, a JSON value.

        How a plugin shows its own per-camera state beside the core's (the
        patrol tour of a camera) without the core knowing the plugin.
        """
        if name in self._fields or name in _CORE_FIELDS:
            raise ValueError(f"PTZ state field {name!r} exists already")
        self._fields[name] = (plugin, describe)

    def subscribe(self, listener: Listener, plugin: str = "core") -> Callable[[], None]:
        """Hear every :class:`PresetChanged`; returns the function that unsubscribes."""
        entry = (plugin, listener)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    # --- what the core knows ------------------------------------------------

    def camera_ids(self) -> list[str]:
        return sorted(self._cameras)

    def has(self, camera_id: str) -> bool:
        return camera_id in self._cameras

    def info(self, camera_id: str) -> CameraInfo:
        return self._get(camera_id).info

    def plugin_of(self, camera_id: str) -> str:
        return self._get(camera_id).plugin

    def presets(self, camera_id: str) -> tuple[Preset, ...]:
        return self._get(camera_id).presets

    def active(self, camera_id: str) -> ActivePreset:
        return self._get(camera_id).active

    def preset_of(self, camera_id: str) -> str | None:
        """The preset a camera is on now: ``None`` for a fixed camera, or one off any preset.

        Analytics call this to pick the zones of the moment.
        """
        cam = self._cameras.get(camera_id)
        return cam.active.preset_id if cam is not None else None

    def lock(self, camera_id: str) -> ManualLock | None:
        """The manual-control lock, if one holds now (an expired one is dropped)."""
        cam = self._get(camera_id)
        if cam.lock is not None and cam.lock.expires_at <= self.clock.monotonic():
            log.info("manual control of %s by %s expired", camera_id, cam.lock.owner)
            cam.lock = None
        return cam.lock

    def last_error(self, camera_id: str) -> CommandError | None:
        return self._get(camera_id).last_error

    def state(self, camera_id: str) -> dict[str, Any]:
        """JSON-ready state for the API and the UI."""
        cam = self._get(camera_id)
        lock = self.lock(camera_id)
        now = self.clock.monotonic()
        active = self.active(camera_id)
        names = {p.id: p.name for p in cam.presets}
        return {
            "camera": camera_id,
            "presets": [{"id": p.id, "name": p.name} for p in cam.presets],
            "active_preset": None
            if active.preset_id is None
            else {"id": active.preset_id, "name": names.get(active.preset_id, active.preset_id)},
            "active_source": active.source,
            "active_since": active.since,
            "manual_control": None
            if lock is None
            else {"owner": lock.owner, "expires_in_s": round(lock.expires_at - now, 1), "timeout_s": cam.manual_timeout_s},
            "last_error": None
            if cam.last_error is None
            else {"op": cam.last_error.op, "reason": cam.last_error.reason, "at": cam.last_error.at},
            "commands": cam.commands,
            "failures": cam.failures,
            **{name: self._field(name, plugin, describe, camera_id) for name, (plugin, describe) in self._fields.items()},
        }

    def _field(self, name: str, plugin: str, describe: StateField, camera_id: str) -> Any:
        try:
            return describe(camera_id)
        except Exception as exc:
            self.report(plugin, f"ptz state field {name}", exc)
            return None

    # --- manual control -----------------------------------------------------

    def take_control(self, camera_id: str, owner: str) -> ManualLock:
        """Take or renew the lock; :class:`Locked` if another operator holds it."""
        cam = self._get(camera_id)
        held = self.lock(camera_id)
        if held is not None and held.owner != owner:
            left = math.ceil(held.expires_at - self.clock.monotonic())
            raise Locked(f"camera {camera_id} is under manual control by {held.owner} for {left} s more")
        now = self.clock.monotonic()
        acquired = held.acquired_at if held is not None else now
        if held is None:
            log.info("manual control of %s taken by %s", camera_id, owner)
        cam.lock = ManualLock(camera_id, owner, acquired, now + cam.manual_timeout_s)
        return cam.lock

    def release(self, camera_id: str, owner: str, force: bool = False) -> bool:
        """Give the lock back; ``force`` (admins) releases another's. True if one was released."""
        cam = self._get(camera_id)
        held = self.lock(camera_id)
        if held is None:
            return False
        if held.owner != owner and not force:
            raise Locked(f"camera {camera_id} is under manual control by {held.owner}, not by you")
        cam.lock = None
        log.info("manual control of %s released by %s", camera_id, owner)
        return True

    # --- commands -----------------------------------------------------------
    # ``by`` is the operator's name, or None for the patrol tour (which never
    # takes the lock and is refused while one holds).

    async def goto_preset(self, camera_id: str, preset_id: str, by: str | None) -> None:
        cam = self._get(camera_id)
        if preset_id not in {p.id for p in cam.presets}:
            known = ", ".join(p.id for p in cam.presets) or "none"
            raise UnknownPreset(f"camera {camera_id} has no preset {preset_id!r} (presets: {known})")
        await self._command(cam, "goto_preset", by, lambda c: c.goto_preset(preset_id), preset_id)

    async def continuous_move(self, camera_id: str, pan: float, tilt: float, zoom: float, by: str) -> None:
        cam = self._get(camera_id)
        await self._command(cam, "continuous_move", by, lambda c: c.continuous_move(pan, tilt, zoom), None)

    async def absolute_move(self, camera_id: str, pan: float, tilt: float, zoom: float, by: str) -> None:
        cam = self._get(camera_id)
        await self._command(cam, "absolute_move", by, lambda c: c.absolute_move(pan, tilt, zoom), None)

    async def zoom(self, camera_id: str, level: float, by: str) -> None:
        cam = self._get(camera_id)
        await self._command(cam, "zoom", by, lambda c: c.zoom(level), None)

    async def stop(self, camera_id: str, by: str) -> None:
        cam = self._get(camera_id)
        await self._command(cam, "stop", by, lambda c: c.stop(), _KEEP)

    async def refresh_presets(self, camera_id: str) -> tuple[Preset, ...]:
        """Ask the camera for its presets; the answer replaces what the core knew."""
        cam = self._get(camera_id)
        async with cam.busy:
            try:
                presets = await asyncio.wait_for(cam.control.list_presets(), self.command_timeout_s)
            except Exception as exc:
                raise self._failed(cam, "list_presets", exc) from None
        cam.presets = tuple(presets)
        return cam.presets

    async def _command(
        self,
        cam: _Camera,
        op: str,
        by: str | None,
        call: Callable[[PtzControl], Awaitable[None]],
        target: Any,
    ) -> None:
        camera_id = cam.info.id
        if by is not None:
            self.take_control(camera_id, by)
        elif self.lock(camera_id) is not None:
            raise Locked(f"camera {camera_id} is under manual control")
        source = "tour" if by is None else "manual"
        async with cam.busy:
            # a tour command queued behind an operator's must not undo it
            if by is None and self.lock(camera_id) is not None:
                raise Locked(f"camera {camera_id} is under manual control")
            cam.commands += 1
            if target is None:
                self._set_active(cam, None, source)  # leaving the preset now
            try:
                await asyncio.wait_for(call(cam.control), self.command_timeout_s)
            except Exception as exc:
                if target is not _KEEP:
                    self._set_active(cam, None, source)  # where it points is unknown
                raise self._failed(cam, op, exc) from None
            cam.last_error = None
            if target is not None and target is not _KEEP:
                self._set_active(cam, target, source)

    def _failed(self, cam: _Camera, op: str, exc: BaseException) -> CommandFailed:
        reason = _timeout_reason(exc, self.command_timeout_s)
        cam.failures += 1
        cam.last_error = CommandError(op, str(reason), self.clock.time())
        self.report(cam.plugin, f"ptz {op} on camera {cam.info.id}", reason)
        return CommandFailed(f"camera {cam.info.id} did not accept {op}: {reason}")

    def _set_active(self, cam: _Camera, preset_id: str | None, source: str) -> None:
        previous = cam.active.preset_id
        cam.active = ActivePreset(cam.info.id, preset_id, source, self.clock.time())
        if previous == preset_id:
            return
        event = PresetChanged(cam.info.id, preset_id, previous, source, cam.active.since)
        for plugin, listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:
                self.report(plugin, "ptz preset listener", exc)

    def report(self, plugin: str, where: str, exc: BaseException) -> None:
        """Report a failure against ``plugin`` (degraded in health), or log it without a plugin host."""
        if self._host is not None:
            self._host.report_failure(plugin, where, exc)
        else:
            log.error("%s failed in %s: %s", plugin, where, exc)

    def _get(self, camera_id: str) -> _Camera:
        cam = self._cameras.get(camera_id)
        if cam is None:
            raise UnknownCamera(f"no PTZ camera {camera_id!r}")
        return cam


_CORE_FIELDS = frozenset(
    {"camera", "presets", "active_preset", "active_source", "active_since", "manual_control", "last_error",
     "commands", "failures"}
)
_KEEP = object()  # a command that leaves the active preset as it is (stop)


def _timeout_reason(exc: BaseException, timeout_s: float) -> BaseException:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not str(exc):
        return TimeoutError(f"no answer within {timeout_s:g} s")
    return exc
