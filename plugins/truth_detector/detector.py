"""A :class:`core.analytics.detector.Detector` that recognises simulator frames and answers with their truth.

The detector contract hands a detector bare pictures, with no camera or time.
This one decodes each truth file's video once, keeps a tiny grey thumbnail
(32 x 18) of every frame, and answers a picture with the truth of the frame
whose thumbnail is nearest, boxes scaled to the picture's size. A picture far
from every simulator frame (another camera) gets no detections. It is for tests
and evaluation only; a test keeps it out of every shipped deployment file.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

from core.analytics.detector import Detection, DetectorInfo
from plugins.truth_detector.replay import ReplayOptions, TruthReplay

THUMB = (32, 18)
MAX_DISTANCE = 12.0  # mean grey-level difference (0-255) beyond which a picture is no simulator frame


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Grey (channel mean, so RGB and BGR agree), box-filtered to 32 x 18, as float32."""
    grey = np.asarray(image, dtype=np.float32).mean(axis=2)
    return np.asarray(Image.fromarray(grey, mode="F").resize(THUMB, Image.Resampling.BOX), dtype=np.float32).ravel()


class TruthDetector:
    name = "truth"

    def __init__(self, truth_files: Sequence[Path], options: ReplayOptions | None = None) -> None:
        self.truth_files = list(truth_files)
        self.options = options or ReplayOptions()
        self._lock = threading.Lock()
        self._replays: list[TruthReplay] = []
        self._thumbs = np.zeros((0, THUMB[0] * THUMB[1]), np.float32)
        self._owner: list[tuple[int, int]] = []  # row -> (replay, frame)
        self._started = False

    def start(self) -> None:
        """Read every truth file and thumbnail its video's frames (seconds per loop; call in a thread)."""
        with self._lock:
            thumbs, owner, replays = [], [], []
            for path in self.truth_files:
                replay = TruthReplay.load(path, self.options)
                video = Path(path).with_name(replay.doc["video"])
                with av.open(str(video)) as container:
                    for i, frame in enumerate(container.decode(video=0)):
                        thumbs.append(thumbnail(frame.to_ndarray(format="rgb24")))
                        owner.append((len(replays), i))
                replays.append(replay)
            self._replays, self._owner = replays, owner
            self._thumbs = np.stack(thumbs) if thumbs else self._thumbs
            self._started = True

    def recognise(self, image: np.ndarray) -> tuple[TruthReplay, int] | None:
        """The truth file and frame index a picture shows, or ``None``."""
        if not self._owner:
            return None
        distance = np.abs(self._thumbs - thumbnail(image)).mean(axis=1)
        row = int(distance.argmin())
        if distance[row] > MAX_DISTANCE:
            return None
        k, i = self._owner[row]
        return self._replays[k], i

    def detect_sync(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        out = []
        for image in frames:
            found = self.recognise(image)
            if found is None:
                out.append([])
                continue
            replay, i = found
            sx, sy = image.shape[1] / replay.width, image.shape[0] / replay.height
            out.append([
                Detection(d.label, d.score, d.x1 * sx, d.y1 * sy, d.x2 * sx, d.y2 * sy) for d in replay.frames[i]
            ])
        return out

    async def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not self._started:  # no start-up hook ran (``bconnect analyze``): read the truth now
            await asyncio.to_thread(self.start)
        return await asyncio.to_thread(self.detect_sync, frames)

    def info(self) -> DetectorInfo:
        labels = sorted({c for r in self._replays for c in r.classes.values()})
        size = (self._replays[0].width, self._replays[0].height) if self._replays else (0, 0)
        return DetectorInfo(model="simulator ground truth", provider="truth", input_size=size, labels=tuple(labels))
