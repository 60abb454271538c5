"""Plate reading as a core service: a plugin reads plates, analyzers ask the core.

A plugin registers a :class:`PlateReader` through ``bconnect_register_plate_readers``
(the plate reader does); an analyzer that caught a vehicle (the parking rule) hands
the pictures of its track to ``services.plates.read`` (:class:`PlateService`) and
puts the answer into its event's ``detail`` (:meth:`PlateReading.detail`), where
the violation workflow reads ``plate`` and ``plate_confidence``. The core names no
plugin and holds no plate format: without a reader, ``read`` answers ``None`` and
violations wait for an officer's entry, as they always could.

The service bounds what a reader may cost the caller: a read that raises, is
refused as busy (:class:`ReaderBusy`) or takes longer than ``timeout_s`` answers
``None`` (the event goes out without a plate: manual entry), logged and counted,
and a failure is reported against the reader's plugin.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("bconnect.plates")

PLATE_READER_HOOK = "bconnect_register_plate_readers"
READ_TIMEOUT_S = 60.0
MAX_CROPS = 16  # pictures handed to a reader per read, at most


class ReaderBusy(RuntimeError):
    """A reader's queue is full: it refuses at once rather than queue (counted, not a failure)."""


@dataclass(frozen=True)
class PlateReading:
    """One vehicle's plate as read over several pictures of its track."""

    text: str  # normalised (``KT1234AB``); "" when nothing was read
    confidence: float  # 0..1
    valid: bool  # passes the reader's plate rules
    display: str = ""  # as painted (``KT 1234 AB``)
    raw: str = ""  # what the OCR printed in the winning picture
    colour: str = "unknown"  # the plate's background colour
    votes: int = 0  # pictures that read ``text``
    frames: int = 0  # pictures read
    reasons: tuple[str, ...] = ()  # why it needs manual entry; empty when the reader would trust it

    def detail(self) -> dict[str, Any]:
        """The event ``detail`` keys: ``plate`` and ``plate_confidence`` (what the violation workflow
        reads), and ``plate_read`` (the rest, for the officer and the sinks)."""
        return {
            "plate": self.text or None,
            "plate_confidence": round(min(max(self.confidence, 0.0), 1.0), 4),
            "plate_read": {
                "display": self.display, "raw": self.raw, "colour": self.colour,
                "valid": self.valid, "votes": self.votes, "frames": self.frames, "reasons": list(self.reasons),
            },
        }


@runtime_checkable
class PlateReader(Protocol):
    """Reads one vehicle's plate from several pictures of it, off the event loop.

    ``crops``: H x W x 3 uint8 RGB pictures of the vehicle (its box grown by a margin, at the
    camera's full resolution), the best first. ``vehicle_class``: the detector's class (``car``,
    ``motorcycle`` ...) or ``None``. OCR is CPU-heavy: the reader runs it in its own threads and
    bounds its queue, raising :class:`ReaderBusy` rather than growing it.
    """

    name: str

    async def read(self, crops: Sequence[Any], vehicle_class: str | None) -> PlateReading: ...


class PlateService:
    """What analyzers get as ``services.plates``: the first registered reader, bounded and contained."""

    def __init__(
        self,
        reader: PlateReader | None = None,
        on_failure: Callable[[BaseException], None] = lambda exc: None,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._reader = reader
        self._on_failure = on_failure
        self.timeout_s = timeout_s
        self.counts: Counter[str] = Counter()  # read, failed, busy, timed_out

    @classmethod
    def from_registered(
        cls, registered: list[tuple[str, Any]], report: Callable[[str, str, BaseException], None]
    ) -> PlateService:
        """The first valid reader of ``registered`` (``(plugin, object)`` pairs); any other object is
        reported against its plugin."""
        reader, owner = None, ""
        for plugin, obj in registered:
            if not isinstance(obj, PlateReader) or not inspect.iscoroutinefunction(obj.read):
                report(plugin, PLATE_READER_HOOK, TypeError(f"not a PlateReader (async read): {obj!r}"[:200]))
            elif reader is not None:
                report(plugin, PLATE_READER_HOOK, ValueError(
                    f"plate reader {obj.name!r} ignored: {reader.name!r} was registered first"))
            else:
                reader, owner = obj, plugin
        return cls(reader, lambda exc: report(owner, PLATE_READER_HOOK, exc))

    @property
    def available(self) -> bool:
        return self._reader is not None

    @property
    def name(self) -> str | None:
        return self._reader.name if self._reader is not None else None

    async def read(self, crops: Sequence[Any], vehicle_class: str | None) -> PlateReading | None:
        """The reading, or ``None`` (no reader, no picture, busy, failed, too slow): then an officer types it."""
        reader = self._reader
        crops = [c for c in crops if c is not None][:MAX_CROPS]
        if reader is None or not crops:
            return None
        try:
            reading = await asyncio.wait_for(reader.read(crops, vehicle_class), self.timeout_s)
            if not isinstance(reading, PlateReading):
                raise TypeError(f"read returned {type(reading).__name__}, not a PlateReading")
        except ReaderBusy as exc:
            self.counts["busy"] += 1
            log.warning("plate reader %s busy: %s", reader.name, exc)
            return None
        except TimeoutError:
            self.counts["timed_out"] += 1
            log.warning("plate reader %s: no answer within %.0f s", reader.name, self.timeout_s)
            return None
        except Exception as exc:
            self.counts["failed"] += 1
            log.warning("plate reader %s failed: %s", reader.name, exc)
            self._on_failure(exc)
            return None
        self.counts["read"] += 1
        return reading
