"""The simulator's ground truth, replayed as a detector's output.

A truth file (``<name>.truth.json``, ``docs/simulator.md``) lists every object
of every frame with its whole box. :class:`TruthReplay` turns the frame at a
stream time into :class:`core.analytics.detector.Detection` values, as a
perfect detector would see them: objects too faint in the haze, too small, or
mostly hidden behind nearer objects are left out, as a real detector would
miss them. Rules are thereby tested apart from the detector's misses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analytics.detector import Detection

TRUTH_FORMAT = "bconnect-sim-truth/1"


@dataclass(frozen=True)
class ReplayOptions:
    min_clarity: float = 0.3  # fainter than this in the haze: not seen
    min_height: float = 8.0  # pixels
    hide_covered: float = 0.6  # this much of the box behind nearer objects: not seen
    riders: bool = False  # a motorcycle's rider as a person of its own


class TruthReplay:
    """One truth file; :meth:`at` gives the detections of the frame shown at a stream time (the loop repeats)."""

    def __init__(self, doc: dict[str, Any], options: ReplayOptions | None = None) -> None:
        if doc.get("format") != TRUTH_FORMAT:
            raise ValueError(f"not a simulator truth file (format {doc.get('format')!r}, expected {TRUTH_FORMAT})")
        self.doc = doc
        self.options = options or ReplayOptions()
        self.fps = float(doc["fps"])
        self.width, self.height = int(doc["width"]), int(doc["height"])
        self.loop_seconds = float(doc["loop_seconds"])
        self.classes = {o["id"]: o["class"] for o in doc["objects"]}
        self.frames = [self._detections(f["objects"]) for f in doc["frames"]]

    @classmethod
    def load(cls, path: Path | str, options: ReplayOptions | None = None) -> TruthReplay:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the truth file: {exc}") from None
        return cls(doc, options)

    def index(self, t: float) -> int:
        """The loop's frame shown at stream time ``t``."""
        return int(round(t * self.fps)) % len(self.frames)

    def at(self, t: float) -> list[Detection]:
        return list(self.frames[self.index(t)])

    def _detections(self, objects: list[dict[str, Any]]) -> tuple[Detection, ...]:
        opt = self.options
        near_first = sorted(objects, key=lambda o: o.get("depth", 0.0))
        out = []
        for k, obj in enumerate(near_first):
            if "." in obj["id"] and not opt.riders:
                continue
            x1, y1, x2, y2 = (float(v) for v in obj["bbox"])
            clarity = float(obj.get("clarity", 1.0))
            if clarity < opt.min_clarity or y2 - y1 < opt.min_height or x2 <= x1:
                continue
            nearer = [o["bbox"] for o in near_first[:k] if "." not in o["id"]]
            if _covered((x1, y1, x2, y2), nearer) >= opt.hide_covered:
                continue
            score = round(0.5 + 0.45 * min(clarity, 1.0), 3)
            out.append(Detection(self.classes.get(obj["id"], "object"), score, x1, y1, x2, y2))
        return tuple(out)


def _covered(box: tuple[float, float, float, float], others: list[list[float]]) -> float:
    """Share of ``box`` under the union of ``others`` (on a coarse grid: good to a few per cent)."""
    x1, y1, x2, y2 = box
    if not others:
        return 0.0
    n = 8
    hit = 0
    for i in range(n):
        for j in range(n):
            px, py = x1 + (i + 0.5) * (x2 - x1) / n, y1 + (j + 0.5) * (y2 - y1) / n
            if any(o[0] <= px <= o[2] and o[1] <= py <= o[3] for o in others):
                hit += 1
    return hit / (n * n)
