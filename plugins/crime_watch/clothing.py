"""The colour of a person's clothes, to tell two people apart where one track ends and another begins.

Crime watch continues a loitering stay when a new track appears where a person
was lost (the detector misses people for seconds). Boxes alone cannot tell that
person from another who appears on the same spot: a walker going in at a door
and another coming out of the next (seed 1111), or two walkers crossing, the
tracker losing the one behind (seed 1414). The mean colour of the upper body
can: a dark shirt is not a white or a yellow one.

What is read: one mean colour (three numbers) of the middle of a box's upper
half, per person tracked in the frame. It is held in memory with the person's
stay, compared when a new track would continue it, and forgotten with the stay;
never stored, sent or shown. It is no biometric: clothes, not the body, and too
coarse to find anyone again beyond the few seconds it is kept.

A veto only: two colours must differ plainly (brightness by ``ratio`` times, or
hue by ``chroma``) for two tracks to be two people; lamps, shade and night noise
change a shirt's colour less than that. Pure numpy, read only for the people in a watched area.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from core.analytics.tracker import Track

Colour = tuple[float, float, float]  # mean R, G, B, 0-255
TOP, BOTTOM = 0.15, 0.5  # the upper body: this share of the box's height from its top, to this one
SIDE = 0.2  # ... leaving this share of its width on each side (arms, and the background beside them)
MIN_PIXELS = 12  # fewer pixels than this: no colour
WEIGHT = 0.2  # a stay's colour: a running mean, this much of each new frame's


class TorsoColours(Mapping[int, Colour]):
    """The upper-body colour of each person tracked (not lost) in this frame, by track id, read when first asked.

    The rule asks only for the people in a watched area (a stay, or a track that may continue one): people
    elsewhere in the picture cost nothing. About 10 us a person on a 1280x720 frame (docs/rules.md)."""

    __slots__ = ("_image", "_tracks", "_read")

    def __init__(self, image_bgr: np.ndarray, tracks: Iterable[Track], people: frozenset[str]) -> None:
        self._image = image_bgr
        self._tracks = {t.id: t for t in tracks if t.label in people and t.state == "tracked"}
        self._read: dict[int, Colour | None] = {}

    def __getitem__(self, track_id: int) -> Colour:
        if track_id not in self._read:
            self._read[track_id] = _upper_body(self._image, self._tracks[track_id].box)  # KeyError: not a person
        colour = self._read[track_id]
        if colour is None:
            raise KeyError(track_id)  # too small, or off the picture: no colour
        return colour

    def __iter__(self) -> Iterator[int]:
        return (i for i in self._tracks if i in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def torso_colours(image_bgr: np.ndarray, tracks: Iterable[Track], people: frozenset[str]) -> dict[int, Colour]:
    """Every person's colour at once (what :class:`TorsoColours` reads when asked)."""
    return dict(TorsoColours(image_bgr, tracks, people))


def _upper_body(image_bgr: np.ndarray, box: tuple[float, float, float, float]) -> Colour | None:
    height, width = image_bgr.shape[:2]
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    xa, xb = int(max(x1 + SIDE * w, 0)), int(min(x2 - SIDE * w, width))
    ya, yb = int(max(y1 + TOP * h, 0)), int(min(y1 + BOTTOM * h, height))
    if xb <= xa or yb <= ya or (xb - xa) * (yb - ya) < MIN_PIXELS:
        return None
    b, g, r = image_bgr[ya:yb, xa:xb].reshape(-1, 3).mean(axis=0)
    return (float(r), float(g), float(b))


def blend(old: Colour | None, new: Colour) -> Colour:
    """A stay's colour after one more frame."""
    if old is None:
        return new
    return tuple(o + WEIGHT * (n - o) for o, n in zip(old, new))  # type: ignore[return-value]


def differ(a: Colour | None, b: Colour | None, ratio: float, chroma: float) -> bool:
    """Plainly not the same clothes: brightness at least ``ratio`` times apart, or the colour's share of red and
    of green (brightness aside) apart by ``chroma`` or more. Unknown colours never differ."""
    if a is None or b is None:
        return False
    sa, sb = sum(a) + 3.0, sum(b) + 3.0  # + 1 a channel: black is not infinitely darker than near-black
    if max(sa, sb) >= ratio * min(sa, sb):
        return True
    return max(abs(a[0] / sa - b[0] / sb), abs(a[1] / sa - b[1] / sb)) >= chroma
