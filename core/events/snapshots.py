"""Event snapshots: a JPEG with the boxes drawn, stored once by its SHA-256 under the data folder.

Both functions do file or image work: call them in a thread
(``await asyncio.to_thread(store_snapshot, data_dir, jpeg)``), never on the loop.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from core.events.types import Snapshot

MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Box:
    """A box in pixels of the image, with what to write beside it."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str = ""


def draw_boxes(image: Image.Image, boxes: Iterable[Box], quality: int = 85) -> bytes:
    """``image`` as a JPEG with each box outlined and labelled."""
    img = image.convert("RGB")
    pen = ImageDraw.Draw(img)
    width = max(2, img.width // 400)
    for b in boxes:
        pen.rectangle((b.x1, b.y1, b.x2, b.y2), outline=(255, 64, 32), width=width)
        if b.label:
            top = max(0, b.y1 - 12)
            pen.rectangle((b.x1, top, b.x1 + 7 * len(b.label) + 4, top + 12), fill=(255, 64, 32))
            pen.text((b.x1 + 2, top), b.label, fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def store_snapshot(data_dir: Path, jpeg: bytes) -> Snapshot:
    """Write ``jpeg`` to ``data_dir/snapshots/ab/<sha256>.jpg`` (flushed to disk) and return its reference."""
    if not jpeg.startswith(b"\xff\xd8") or len(jpeg) > MAX_BYTES:
        raise ValueError(f"snapshot: not a JPEG of at most {MAX_BYTES} bytes")
    digest = hashlib.sha256(jpeg).hexdigest()
    rel = f"snapshots/{digest[:2]}/{digest}.jpg"
    path = data_dir / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # private to this thread: two cameras showing the same picture store the same file at the same time
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                f.write(jpeg)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # the same bytes under the same name, whoever renames last
        finally:
            tmp.unlink(missing_ok=True)
    return Snapshot(rel, digest)
