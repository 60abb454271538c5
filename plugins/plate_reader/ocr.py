"""PP-OCR (``rapidocr-onnxruntime``'s bundled ONNX models) on one plate crop.

The recogniser's alphabet is Chinese plus Latin; plates use 0-9 and A-Z only.
So the text detector finds the plate's main line, the recogniser scores it, and
the CTC output is decoded twice: once over the full alphabet (``raw``, what the
model would have said) and once restricted to blank, upper-case letters and
digits (lower case folded into upper case), which keeps, for every character,
its probability and the best letter and best digit at that place. The TNKB
fix-ups use those alternatives.

Blocking and CPU-heavy: call it from a worker thread (see ``reader.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LINE_HEIGHT = 96  # pixels a crop is scaled to before text detection


@dataclass(frozen=True)
class Char:
    """One decoded character: what it is, how sure, and its best letter and best digit."""

    char: str
    prob: float
    letter: str
    letter_prob: float
    digit: str
    digit_prob: float


@dataclass(frozen=True)
class RawRead:
    """What the OCR saw in one crop."""

    raw: str  # full-alphabet decode, as the model says it
    chars: tuple[Char, ...]  # letters and digits only

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.chars)


class Ocr:
    """The detector and recogniser sessions, built once (about 2 s) and reused."""

    def __init__(self, threads: int = 1, use_cuda: bool = False) -> None:
        from rapidocr_onnxruntime import RapidOCR  # heavy: only when a reader is built

        self.engine = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            det_use_cuda=use_cuda,
            rec_use_cuda=use_cuda,
            cls_use_cuda=use_cuda,
            det_limit_type="max",
            det_limit_side_len=480,
        )
        rec = self.engine.text_rec
        self.alphabet: list[str] = rec.postprocess_op.character  # index 0 is CTC blank
        self.groups = _groups(self.alphabet)

    def read(self, crop_rgb: np.ndarray, detect: bool = True) -> RawRead:
        """Read the plate in ``crop_rgb`` (H x W x 3, uint8, RGB)."""
        line = self._line(_prepare(crop_rgb), detect)
        rec = self.engine.text_rec
        _, _, rec_h, rec_w = (1, *rec.rec_image_shape)
        h, w = line.shape[:2]
        norm = rec.resize_norm_img(line, max(rec_w / rec_h, w / max(h, 1)))
        probs = rec.session(norm[np.newaxis].astype(np.float32))[0][0]  # T x C
        return RawRead(raw=_decode_full(probs, self.alphabet), chars=_decode_alnum(probs, self.groups))

    def _line(self, img: np.ndarray, detect: bool) -> np.ndarray:
        """The plate's main text line: the largest box the detector finds, widened over the boxes
        beside it (the detector may split ``KT 8643`` in two); else the whole crop."""
        if not detect:
            return img
        boxes, _ = self.engine.text_det(img)
        if boxes is None or len(boxes) == 0:
            return img
        rects = [cv2.boundingRect(np.asarray(b, dtype=np.float32)) for b in boxes]
        x, y, w, h = max(rects, key=lambda r: r[2] * r[3])
        line = [r for r in rects if min(y + h, r[1] + r[3]) - max(y, r[1]) > 0.5 * min(h, r[3])]
        x0, y0 = min(r[0] for r in line), min(r[1] for r in line)
        x1, y1 = max(r[0] + r[2] for r in line), max(r[1] + r[3] for r in line)
        pad = max(2, (y1 - y0) // 8)
        ih, iw = img.shape[:2]
        return img[max(0, y0 - pad) : min(ih, y1 + pad), max(0, x0 - pad) : min(iw, x1 + pad)]


def _prepare(crop_rgb: np.ndarray) -> np.ndarray:
    """BGR, scaled to a fixed height, with a margin the detector needs around text."""
    img = cv2.cvtColor(np.ascontiguousarray(crop_rgb[..., :3]), cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    scale = LINE_HEIGHT / max(h, 1)
    img = cv2.resize(img, (max(1, round(w * scale)), LINE_HEIGHT), interpolation=cv2.INTER_CUBIC)
    pad = LINE_HEIGHT // 6
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def _groups(alphabet: list[str]) -> np.ndarray:
    """For each recogniser class, its index in ``ALNUM`` (lower case folded), else -1."""
    out = np.full(len(alphabet), -1, dtype=np.int64)
    for i, ch in enumerate(alphabet):
        if i and len(ch) == 1 and ch.upper() in ALNUM:
            out[i] = ALNUM.index(ch.upper())
    return out


def _decode_full(probs: np.ndarray, alphabet: list[str]) -> str:
    best = probs.argmax(axis=1)
    out, prev = [], 0
    for k in best:
        if k != prev and k != 0:
            out.append(alphabet[k])
        prev = k
    return "".join(out)


def _decode_alnum(probs: np.ndarray, groups: np.ndarray) -> tuple[Char, ...]:
    """Greedy CTC over {blank, 0-9, A-Z} alone, renormalised: a plate has no other character, so
    where the model prefers ``]`` the letter it would choose instead (often ``J``) competes with
    blank rather than being dropped."""
    alnum = np.zeros((probs.shape[0], len(ALNUM)), dtype=np.float64)
    mask = groups >= 0
    np.add.at(alnum.T, groups[mask], probs[:, mask].T)
    scores = np.column_stack([probs[:, 0], alnum])
    scores /= np.maximum(scores.sum(axis=1, keepdims=True), 1e-9)
    alnum = scores[:, 1:]
    best = scores.argmax(axis=1)
    chars: list[Char] = []
    t = 0
    while t < len(best):
        k = int(best[t])
        end = t
        while end + 1 < len(best) and best[end + 1] == k:
            end += 1
        if k:
            i = k - 1
            row = alnum[t + int(np.argmax(alnum[t : end + 1, i]))]
            d = int(np.argmax(row[:10]))
            letter = 10 + int(np.argmax(row[10:]))
            chars.append(Char(ALNUM[i], float(row[i]), ALNUM[letter], float(row[letter]), ALNUM[d], float(row[d])))
        t = end + 1
    return tuple(chars)
