"""The detector contract: what a detector plugin hands the core.

A detector turns frames (H x W x 3 uint8 RGB numpy arrays, any size) into
boxes in the frame's own pixels. Analyzers share one detector per deployment;
``detect`` takes a batch so that a detector can run frames of several cameras
in one inference. Registered through ``bconnect_register_detectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

DETECTOR_HOOK = "bconnect_register_detectors"


@dataclass(frozen=True)
class Detection:
    """One object found in one frame; the box in pixels of that frame (x1, y1) top-left."""

    label: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


@dataclass(frozen=True)
class DetectorInfo:
    """What a detector runs on, for health and logs."""

    model: str  # file name or a short model name
    provider: str  # e.g. CPUExecutionProvider, CUDAExecutionProvider
    input_size: tuple[int, int]  # (width, height) the model sees
    labels: tuple[str, ...] = ()
    fallback_reason: str | None = None  # one line, when a wanted provider did not load


class FramesDropped(Exception):
    """The detector's queue was full and dropped a frame of this call (counted); try the next frame."""


@runtime_checkable
class Detector(Protocol):
    """Finds objects in frames. ``detect`` is awaited on the analytics loop, shared by every camera: it never blocks."""

    name: str

    async def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """One list of detections per frame, in the order given.

        Raises :class:`FramesDropped` when the detector is saturated and
        dropped one of these frames, rather than queueing without bound.
        """
        ...

    def info(self) -> DetectorInfo: ...


def no_detector_reason() -> str:
    """Which plugin to enable: those installed whose manifest says they provide a detector."""
    from core.manifest import discover  # the installed plugins' manifests: the core names none itself

    providers = sorted(
        n for n, a in discover().items()
        if a.manifest is not None and "detector" in a.manifest.provides and not a.manifest.test_only
    )
    if not providers:
        return "no detector is enabled, and no installed plugin provides one"
    which = " or ".join(f"[plugins.{n}]" for n in providers)
    return f"no detector is enabled: add {which} to it (a plugin that provides a detector)"
