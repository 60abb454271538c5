"""Patrol tours: each PTZ camera cycles through its presets, a dwell at each.

The core scheduler calls :meth:`TourRunner.tick` every ``tick_s`` (job
``patrol_tours:tick``); tests call it themselves after advancing a
:class:`core.clock.FakeClock`. A tick is a pure step: for each tour that is
due, move to the next stop. All moves go through the core's PTZ arbiter
(:class:`core.services.PtzArbiter`), with ``by=None``,
so an operator's manual-control lock pauses the tour of that camera; when the
lock is released or expires the tour goes back to the stop it was on and
carries on from there. A stop whose command fails is reported by the PTZ
service and skipped; the tour keeps going, waiting longer after each failure
in a row (twice the dwell, four times ... up to ``max_backoff_s``) so an
unreachable camera is not hammered, and back to the plain dwell on success.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from core.interfaces import TourPlan, TourStop
from core.ptz.service import Locked, PtzError
from core.services import PtzArbiter

log = logging.getLogger("bconnect.plugin.patrol_tours")

MAX_BACKOFF_S = 300.0


@dataclass
class _Tour:
    plugin: str
    camera_id: str
    stops: tuple[TourStop, ...]
    enabled: bool
    index: int = -1  # the stop the camera is on (or going to); -1 before the first
    next_at: float | None = None  # clock.monotonic() when to move on; None: go now
    paused_by: str | None = None  # operator holding manual control
    failures: int = 0  # commands failed in a row


class TourRunner:
    def __init__(self, ptz: PtzArbiter, clock: Clock, max_backoff_s: float = MAX_BACKOFF_S) -> None:
        self._ptz = ptz
        self._clock = clock
        self._max_backoff_s = max_backoff_s
        self._tours: dict[str, _Tour] = {}

    def add(self, plugin: str, plan: TourPlan) -> None:
        """Take a driver's tour plan; stops naming unknown presets are dropped.

        The PTZ arbiter already reported those of the plans it proposes
        (:meth:`PtzArbiter.proposed_tours`) against the driver's plugin.
        """
        try:
            presets = {p.id for p in self._ptz.presets(plan.camera_id)}
        except PtzError as exc:
            log.warning("tour of %s from %s dropped: %s", plan.camera_id, plugin, exc.reason)
            return
        stops = tuple(s for s in plan.stops if s.preset_id in presets)
        dropped = [s.preset_id for s in plan.stops if s.preset_id not in presets]
        if dropped:
            log.warning("tour of %s from %s: unknown presets dropped: %s", plan.camera_id, plugin, ", ".join(dropped))
        if not stops:
            return
        self._tours[plan.camera_id] = _Tour(plugin, plan.camera_id, stops, plan.enabled)

    def camera_ids(self) -> list[str]:
        return sorted(self._tours)

    def has(self, camera_id: str) -> bool:
        return camera_id in self._tours

    def set_enabled(self, camera_id: str, enabled: bool) -> None:
        tour = self._tours[camera_id]
        if enabled and not tour.enabled:
            tour.next_at = None  # back to the current stop at the next tick
        tour.enabled = enabled
        log.info("tour of %s switched %s", camera_id, "on" if enabled else "off")

    def status(self, camera_id: str) -> dict[str, Any] | None:
        tour = self._tours.get(camera_id)
        if tour is None:
            return None
        lock = self._ptz.lock(camera_id)
        if not tour.enabled:
            state = "off"
        elif lock is not None:
            state = "paused"
        else:
            state = "running"
        stop = tour.stops[tour.index] if tour.index >= 0 else None
        now = self._clock.monotonic()
        return {
            "enabled": tour.enabled,
            "state": state,
            "paused_by": lock.owner if lock is not None else None,
            "stops": [{"preset": s.preset_id, "dwell_s": s.dwell_s} for s in tour.stops],
            "current_stop": tour.index if tour.index >= 0 else None,
            "current_preset": stop.preset_id if stop else None,
            "failures_in_a_row": tour.failures,
            "next_move_in_s": None
            if tour.next_at is None or state != "running"
            else round(max(0.0, tour.next_at - now), 1),
        }

    async def tick(self) -> None:
        """Move every tour that is due; the cameras move in parallel."""
        due = [t for t in self._tours.values() if self._due(t)]
        if due:
            await asyncio.gather(*(self._step(t) for t in due))

    def _due(self, tour: _Tour) -> bool:
        if not tour.enabled:
            return False
        lock = self._ptz.lock(tour.camera_id)
        if lock is not None:
            if tour.paused_by is None:
                log.info("tour of %s paused: manual control by %s", tour.camera_id, lock.owner)
            tour.paused_by = lock.owner
            tour.next_at = None
            return False
        if tour.paused_by is not None:
            log.info("tour of %s resumes", tour.camera_id)
            tour.paused_by = None
        return tour.next_at is None or self._clock.monotonic() >= tour.next_at

    async def _step(self, tour: _Tour) -> None:
        # None: start, resume after manual control or after being switched on:
        # (re)visit the current stop; otherwise move on to the next one
        if tour.next_at is not None or tour.index < 0:
            tour.index = (tour.index + 1) % len(tour.stops)
        stop = tour.stops[tour.index]
        started = self._clock.monotonic()
        try:
            await self._ptz.goto_preset(tour.camera_id, stop.preset_id, by=None)
        except Locked:
            tour.next_at = None  # an operator took over meanwhile; the next tick pauses
            return
        except PtzError:
            # reported by the PTZ service; wait, then try the next stop
            tour.failures += 1
            tour.next_at = started + max(stop.dwell_s, min(stop.dwell_s * 2**tour.failures, self._max_backoff_s))
            return
        tour.failures = 0
        tour.next_at = started + stop.dwell_s
