"""The mobile units of Polri's fleet and their latest GPS fixes: what the API and the health report read.

A unit is a patrol car carrying one camera. Its fixes are kept by a
:class:`plugins.polri_etle.fixes.FixStore`, opened at start-up; before then
the units are known but their positions are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from plugins.polri_etle.fixes import Fix, FixStore


class NotStarted(RuntimeError):
    """The fixes are not loaded yet (the plugin is starting)."""


class MobileUnits:
    def __init__(self, cameras: Mapping[str, str], stale_after_s: float, clock: Callable[[], datetime]) -> None:
        self.cameras = dict(cameras)  # unit -> camera id
        self.stale_after_s = stale_after_s
        self.now = clock
        self._store: FixStore | None = None

    async def start(self) -> None:
        store = FixStore(set(self.cameras))
        await store.load()
        self._store = store

    def latest(self, unit: str) -> Fix | None:
        return self._store.latest(unit) if self._store else None

    def position_at(self, unit: str, when: datetime) -> Fix | None:
        """The unit's fix near ``when``, or ``None`` when its position then is unknown."""
        return self._store.position_at(unit, when, self.stale_after_s) if self._store else None

    async def report(self, fix: Fix, by: str) -> bool:
        """Keep ``fix`` if newer than the one held (True); :class:`NotStarted` before start-up."""
        if self._store is None:
            raise NotStarted("Polri plugin is starting")
        return await self._store.report(fix, by)

    def describe(self, unit: str) -> dict[str, Any]:
        fix = self.latest(unit)
        return {
            "unit": unit,
            "camera": self.cameras[unit],
            "fix": fix.public(self.now(), self.stale_after_s) if fix else None,
        }

    def without_recent_fix(self) -> list[str]:
        now = self.now()
        return [
            unit
            for unit in sorted(self.cameras)
            if (fix := self.latest(unit)) is None or (now - fix.time).total_seconds() > self.stale_after_s
        ]
