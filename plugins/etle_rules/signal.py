"""The traffic light's state: read from the signal head's pixels, or given by a camera's signal input.

:func:`read_lamp` looks at the signal head's box in one picture: of its pixels,
those lit (bright and saturated) are averaged and the mean colour's hue says
``"red"``, ``"amber"`` or ``"green"``; too few lit pixels (a dark head, a truck
in front, night glare) read ``None``. :class:`LightState` adds hysteresis: a
state changes only after ``confirm`` readings in a row agree, and becomes
unknown after ``unknown_after_s`` of unreadable frames. A reading from a signal
input (:class:`SignalInput`) is sure and applies at once.

Pure: no I/O, no clock; the picture is a numpy array (BGR, as the frame hub's).
"""

from __future__ import annotations

import colorsys
from typing import Any, Literal, Protocol, runtime_checkable

Phase = Literal["red", "amber", "green"]
PHASES: tuple[Phase, ...] = ("red", "amber", "green")


@runtime_checkable
class SignalInput(Protocol):
    """A camera's signal input: the controller's phase, wired to the camera (optional; no driver offers one yet).

    ``signal_phase`` answers at once from what the driver last heard (no I/O):
    ``"red"``, ``"amber"``, ``"green"``, or ``None`` when it does not know (no
    input on that camera, or the controller is silent).
    """

    def signal_phase(self, camera_id: str) -> str | None: ...


def read_lamp(image: Any, box: tuple[float, float, float, float], min_lit: float = 0.03) -> Phase | None:
    """The lit lamp's colour inside ``box`` (x1, y1, x2, y2 in fractions) of a BGR picture; ``None``: unreadable."""
    import numpy as np

    h, w = image.shape[:2]
    x1, y1 = max(int(box[0] * w), 0), max(int(box[1] * h), 0)
    x2, y2 = min(max(int(round(box[2] * w)), x1 + 1), w), min(max(int(round(box[3] * h)), y1 + 1), h)
    crop = np.asarray(image[y1:y2, x1:x2], dtype=np.int16)
    if crop.size == 0:
        return None
    top, bottom = crop.max(axis=2), crop.min(axis=2)
    lit = (top >= 130) & (top - bottom >= 60)
    if lit.mean() < min_lit:
        return None
    b, g, r = (float(crop[..., c][lit].mean()) / 255.0 for c in range(3))
    hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
    if saturation < 0.25:
        return None
    degrees = hue * 360.0
    if degrees < 22.0 or degrees >= 330.0:
        return "red"
    if degrees < 70.0:
        return "amber"
    if 80.0 <= degrees < 210.0:
        return "green"
    return None


class LightState:
    """One signal head's state with hysteresis; ``since`` is the stream time the state began."""

    def __init__(self, confirm: int = 2, unknown_after_s: float = 2.0) -> None:
        self.confirm = confirm
        self.unknown_after_s = unknown_after_s
        self.state: Phase | None = None
        self.since: float | None = None
        self._candidate: Phase | None = None
        self._count = 0
        self._candidate_since = 0.0
        self._last_read: float | None = None

    def update(self, reading: str | None, t: float, sure: bool = False) -> Phase | None:
        if reading not in PHASES:
            if self._last_read is None or t - self._last_read > self.unknown_after_s:
                self.state, self.since = None, None
            self._candidate, self._count = None, 0
            return self.state
        phase: Phase = reading  # type: ignore[assignment]
        self._last_read = t
        if phase == self.state:
            self._candidate, self._count = None, 0
            return self.state
        if phase != self._candidate:
            self._candidate, self._count, self._candidate_since = phase, 0, t
        self._count += 1
        if sure or self._count >= self.confirm:
            self.state, self.since = phase, self._candidate_since
            self._candidate, self._count = None, 0
        return self.state
