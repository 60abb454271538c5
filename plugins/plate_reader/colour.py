"""The plate's background colour from the crop's pixels.

White (private, black text), black (older private, white text), yellow (public
transport), red (government), green (free-trade zone). Each pixel of the
middle of the crop (margin and border left out) is put in one colour class by hue,
saturation and value; the background is the largest class, since the text
covers the smaller part of a plate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COLOURS = ("white", "black", "yellow", "red", "green")


@dataclass(frozen=True)
class PlateColour:
    colour: str  # one of COLOURS, or "unknown"
    share: float  # of the inner pixels in that class


def classify(crop_rgb: np.ndarray) -> PlateColour:
    """The background colour of the plate in ``crop_rgb`` (H x W x 3, uint8, RGB)."""
    h, w = crop_rgb.shape[:2]
    if h < 2 or w < 2:
        return PlateColour("unknown", 0.0)
    # the middle of the crop: the plate's own pixels, whatever margin the crop has around it
    dy, dx = h // 4, w // 5
    inner = np.ascontiguousarray(crop_rgb[dy : h - dy or h, dx : w - dx or w, :3])
    hsv = cv2.cvtColor(inner, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.float32)
    hue, sat, val = hsv[:, 0] * (360 / 256), hsv[:, 1] / 255, hsv[:, 2] / 255
    coloured = (sat >= 0.35) & (val >= 0.25)
    # dark or light by Otsu's split of the plain pixels' brightness (so that a dim white plate at
    # dusk stays white); a crop of one brightness only is split at mid-grey
    plain = (val[~coloured] * 255).astype(np.uint8).reshape(-1, 1)
    split = 0.5
    if plain.size and int(plain.max()) - int(plain.min()) > 60:
        split = cv2.threshold(plain, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0] / 255
    classes = {
        "black": (~coloured) & (val <= split),  # Otsu's class 0 is "at or below the threshold"
        "white": (~coloured) & (val > split),
        "red": coloured & ((hue < 20) | (hue >= 330)),
        "yellow": coloured & (hue >= 35) & (hue < 70),
        "green": coloured & (hue >= 80) & (hue < 170),
    }
    counts = {k: int(v.sum()) for k, v in classes.items()}
    colour = max(counts, key=counts.get)
    share = counts[colour] / max(1, len(hue))
    return PlateColour(colour if share >= 0.3 else "unknown", round(share, 3))
