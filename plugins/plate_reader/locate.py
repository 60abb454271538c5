"""Find the plate in a vehicle's picture: the crop a rule hands over is the vehicle's box, not the plate's.

PP-OCR's text detector (the reader's own session) looks at the vehicle crop,
enlarged so that a plate a few dozen pixels wide has text the detector can
see. Of the text boxes it finds, the plate is taken to be the one most like a
plate: wider than tall (``ASPECT``), in the lower part of the vehicle
(``MIN_Y``: a roof sign or a shop sign behind the vehicle is higher), the
largest such. That box, with a margin, is what the reader reads. A crop with no
such box gives ``None``: the frame does not vote.

Blocking and CPU-heavy: called from the reader's worker threads.
"""

from __future__ import annotations

import cv2
import numpy as np

TARGET_HEIGHT = 384  # a vehicle crop smaller than this is enlarged to it before text detection
MAX_SCALE = 6.0
ASPECT = (1.3, 8.0)  # width / height of a plate's text line (one row of TNKB: 2.0-6.5)
MIN_Y = 0.25  # the plate's centre lies below this share of the vehicle's height


def plate_in(engine, vehicle_rgb: np.ndarray) -> np.ndarray | None:
    """The plate cut out of ``vehicle_rgb`` (H x W x 3 uint8 RGB), enlarged; ``None`` when none is seen.

    ``engine``: a ``RapidOCR`` whose ``text_det`` is used."""
    h, w = vehicle_rgb.shape[:2]
    if h < 8 or w < 8:
        return None
    scale = min(MAX_SCALE, max(1.0, TARGET_HEIGHT / h))
    img = cv2.cvtColor(np.ascontiguousarray(vehicle_rgb[..., :3]), cv2.COLOR_RGB2BGR)
    if scale > 1.0:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    boxes, _ = engine.text_det(img)
    if boxes is None or len(boxes) == 0:
        return None
    ih, iw = img.shape[:2]
    best, best_area = None, 0.0
    for b in boxes:
        x, y, bw, bh = cv2.boundingRect(np.asarray(b, dtype=np.float32))
        if bh < 4 or not ASPECT[0] <= bw / bh <= ASPECT[1] or (y + bh / 2) / ih < MIN_Y:
            continue
        if bw * bh > best_area:
            best, best_area = (x, y, bw, bh), bw * bh
    if best is None:
        return None
    x, y, bw, bh = best
    mx, my = max(2, bw // 8), max(2, bh // 3)
    crop = img[max(0, y - my) : min(ih, y + bh + my), max(0, x - mx) : min(iw, x + bw + mx)]
    return np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
