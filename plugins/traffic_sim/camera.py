"""What the camera does to the light between the street and its pixels.

A drawn scene has edges one pixel sharp, no grain and, at night, the exposure a
human eye would give it. A traffic CCTV camera does three things to it:

- **softness**: its lens and the demosaicing of its Bayer sensor spread every
  edge over a pixel or two (no camera picture has staircase edges);
- **auto gain at night**: a colour "starlight" camera raises its gain until the
  street lamps' light fills the picture, so a lit road is mid-grey, not black,
  and the brightest lights clip with a soft shoulder;
- **sensor noise**, slight by day and stronger at night, because the gain
  raises it with the signal.

Deterministic: frame ``i`` of a loop always gets the same grain.
"""

from __future__ import annotations

import cv2
import numpy as np

SOFTNESS_PX = 0.55  # the lens and demosaicing: sigma of the blur, pixels at any resolution
NIGHT_GAIN = 2.1  # the auto gain a starlight camera settles on under LED street lamps
SHOULDER = 0.8  # where the night tone curve starts to bend towards white (fraction of full scale)
NOISE_DAY = 1.6  # sensor noise, in grey levels (sigma)
NOISE_NIGHT = 4.5


def night_tone() -> np.ndarray:
    """The night tone curve (a lookup table): linear gain, then a soft shoulder instead of a hard clip."""
    x = np.arange(256, dtype=np.float32) / 255.0 * NIGHT_GAIN
    knee = SHOULDER
    y = np.where(x < knee, x, knee + (1.0 - knee) * (1.0 - np.exp(-(x - knee) / (1.0 - knee))))
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


class Camera:
    """Turns a rendered frame into the frame the camera puts out."""

    SHIFT = 64  # the grain of frame i is a window of one field, moved each frame

    def __init__(self, width: int, height: int, night: bool, seed: int):
        self.size = (width, height)
        self.tone = night_tone() if night else None
        # the grain is drawn at half resolution (a demosaiced pixel's noise is shared with its
        # neighbours), once: drawing it anew each frame cost more than the rest of the camera
        half = ((height + 1) // 2 + self.SHIFT, (width + 1) // 2 + self.SHIFT)
        sigma = NOISE_NIGHT if night else NOISE_DAY
        self.grain = np.round(np.random.default_rng([seed, 7]).normal(0.0, sigma, size=half)).astype(np.int16)

    def expose(self, pixels: np.ndarray, i: int) -> np.ndarray:
        """The camera's picture of ``pixels`` (height, width, 3; uint8) as frame ``i``."""
        out = cv2.LUT(pixels, self.tone) if self.tone is not None else pixels
        w, h = self.size
        dy, dx = (i * 37) % self.SHIFT, (i * 53) % self.SHIFT
        g = self.grain[dy : dy + (h + 1) // 2, dx : dx + (w + 1) // 2]
        grain = cv2.resize(cv2.merge([g, g, g]), (w, h), interpolation=cv2.INTER_NEAREST)
        # the grain before the softness: the sensor's noise is demosaiced with the picture
        out = cv2.add(out, grain, dtype=cv2.CV_8U)
        return cv2.GaussianBlur(out, (0, 0), SOFTNESS_PX)
