"""Constant-velocity Kalman filter over boxes, for many tracks at once.

State per track: centre, width, height and their rates, ``[cx, cy, w, h, vx,
vy, vw, vh]``, in pixels and pixels per second. Time is the stream's, in
seconds, so a camera analysed at 2 fps or 10 fps, or a motion-gated one whose
detector skips frames, keeps the same units. Noise scales with the box's size
(as in ByteTrack and BoT-SORT): a near car may jump more pixels than a far one.
The defaults are ByteTrack's per-frame figures at 30 fps, turned into
per-second rates.

Every function takes stacked arrays (``mean`` N x 8, ``cov`` N x 8 x 8), so a
frame's prediction or correction is a handful of numpy calls whatever the
number of tracks.
"""

from __future__ import annotations

import numpy as np

POSITION_NOISE = 0.27  # box sizes per sqrt(second): how far a box may wander unexplained
VELOCITY_NOISE = 1.0  # box sizes per second, per sqrt(second): how fast its speed may change
MEASUREMENT_NOISE = 0.05  # box sizes: how far a detector's box strays from the object

_IDX = np.arange(4)
_DIAG = np.arange(8)


def _scale(boxes: np.ndarray) -> np.ndarray:
    """Per-coordinate size scale ``[w, h, w, h]`` of N boxes given as (cx, cy, w, h)."""
    w = np.maximum(boxes[:, 2], 1.0)
    h = np.maximum(boxes[:, 3], 1.0)
    return np.stack([w, h, w, h], axis=1)


def to_cxcywh(box: np.ndarray) -> np.ndarray:
    """N x 4 (x1, y1, x2, y2) -> N x 4 (cx, cy, w, h)."""
    return np.stack(
        [(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2, box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]], axis=1
    )


def to_xyxy(state: np.ndarray) -> np.ndarray:
    """N x >=4 (cx, cy, w, h, ...) -> N x 4 (x1, y1, x2, y2); sizes are kept at least 1 pixel."""
    w = np.maximum(state[:, 2], 1.0)
    h = np.maximum(state[:, 3], 1.0)
    return np.stack([state[:, 0] - w / 2, state[:, 1] - h / 2, state[:, 0] + w / 2, state[:, 1] + h / 2], axis=1)


def initiate(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of new tracks from their first boxes (N x 4, x1 y1 x2 y2); rates start at 0."""
    z = to_cxcywh(boxes)
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    s = _scale(z)
    std = np.concatenate([2 * MEASUREMENT_NOISE * s, 2.0 * s], axis=1)
    cov = np.zeros((len(z), 8, 8))
    cov[:, np.arange(8), np.arange(8)] = std**2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Both moved ``dt`` seconds ahead."""
    if dt <= 0 or len(mean) == 0:
        return mean, cov
    mean = mean.copy()
    mean[:, :4] += mean[:, 4:] * dt
    s = _scale(mean)
    q = np.concatenate([(POSITION_NOISE * s) ** 2 * dt, (VELOCITY_NOISE * s) ** 2 * dt], axis=1)
    # F P F^T with F = [[I, dt I], [0, I]], block by block
    a, b, c, d = cov[:, :4, :4], cov[:, :4, 4:], cov[:, 4:, :4], cov[:, 4:, 4:]
    out = np.empty_like(cov)
    out[:, :4, :4] = a + dt * (b + c) + (dt * dt) * d
    out[:, :4, 4:] = b + dt * d
    out[:, 4:, :4] = c + dt * d
    out[:, 4:, 4:] = d
    out[:, _DIAG, _DIAG] += q
    return mean, out


def correct(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both corrected by one measured box each (N x 4, x1 y1 x2 y2)."""
    if len(mean) == 0:
        return mean, cov
    z = to_cxcywh(boxes)
    r = (MEASUREMENT_NOISE * _scale(mean)) ** 2
    s = cov[:, :4, :4].copy()
    s[:, _IDX, _IDX] += r
    pht = cov[:, :, :4]  # P H^T: H picks the first four coordinates
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)  # N x 8 x 4
    innovation = z - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ pht.transpose(0, 2, 1)
    return mean, cov
