"""Which object each pixel of a frame shows, so the truth can say how much of an object is in sight.

A truth box covers the whole object, also where something nearer hides it; a detector can only
find what the picture shows. :class:`IdLayer` follows the painter: before an object is drawn the
region it may touch is copied, afterwards every pixel that changed is that object's (its
silhouette) and is written into an object-id layer. Later, nearer objects (and the lamp posts and
signs pasted in front) overwrite it, exactly as they overwrite the picture. An object's
``visible`` fraction is then its pixels left in the layer over its silhouette.

Comparing pixels rather than drawing each shape a second time keeps the painters (people,
vehicles) unaware of it. A pixel painted in the very colour it had is not counted, in the
silhouette and in sight alike, so the fraction stays fair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Snapshot:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1, clipped to the frame
    pixels: np.ndarray


class IdLayer:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.ids = np.zeros((height, width), np.int32)
        self.number: dict[str, int] = {}
        self.drawn: dict[str, int] = {}  # id -> silhouette pixels
        self.boxes: dict[str, tuple[int, int, int, int]] = {}

    def snap(self, img: Image.Image, box) -> Snapshot | None:
        """Copy the part of ``img`` that drawing an object may change."""
        x0, y0 = max(0, int(box[0]) - 1), max(0, int(box[1]) - 1)
        x1, y1 = min(self.width, int(box[2]) + 2), min(self.height, int(box[3]) + 2)
        if x1 <= x0 or y1 <= y0:
            return None
        b = (x0, y0, x1, y1)
        return Snapshot(b, np.asarray(img.crop(b)))

    def changed(self, img: Image.Image, snap: Snapshot | None) -> tuple[Snapshot, np.ndarray] | None:
        """The pixels drawn since ``snap``, as a mask over its box."""
        if snap is None:
            return None
        now = np.asarray(img.crop(snap.box))
        return snap, (now != snap.pixels).any(axis=2)

    def mark(self, oid: str, drawn: tuple[Snapshot, np.ndarray] | None) -> None:
        """``drawn``'s pixels show ``oid`` (now, until something is drawn over them)."""
        if drawn is None:
            return
        snap, mask = drawn
        n = self.number.setdefault(oid, len(self.number) + 1)
        x0, y0, x1, y1 = snap.box
        self.ids[y0:y1, x0:x1][mask] = n
        self.drawn[oid] = self.drawn.get(oid, 0) + int(mask.sum())
        old = self.boxes.get(oid)
        self.boxes[oid] = snap.box if old is None else (min(old[0], x0), min(old[1], y0), max(old[2], x1), max(old[3], y1))

    def cover(self, origin: tuple[int, int], patch: Image.Image) -> None:
        """A fixture pasted in front: its opaque pixels show no object."""
        alpha = np.asarray(patch.getchannel("A")) > 127
        x0, y0 = origin
        x1, y1 = min(self.width, x0 + alpha.shape[1]), min(self.height, y0 + alpha.shape[0])
        if x1 > x0 and y1 > y0:
            self.ids[y0:y1, x0:x1][alpha[: y1 - y0, : x1 - x0]] = 0

    def visible(self, oid: str) -> float:
        """Share of ``oid``'s silhouette still in sight (1.0 for an object never drawn, e.g. all one colour)."""
        total = self.drawn.get(oid, 0)
        if not total:
            return 1.0
        x0, y0, x1, y1 = self.boxes[oid]
        return min(1.0, int((self.ids[y0:y1, x0:x1] == self.number[oid]).sum()) / total)
