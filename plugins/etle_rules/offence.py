"""One offence as the rules find it, and the event it becomes."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.events.types import Event, Snapshot

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FrameInfo:
    """What the rules read of a frame: the frame hub's facts, no pixels. ``ref``: the analyzer's handle on it."""

    camera_id: str
    preset: str | None
    stream_time: float  # seconds, the stream's own clock
    wall_time: datetime  # aware
    width: int
    height: int
    ref: Hashable = None


@dataclass(frozen=True)
class Offence:
    """A vehicle caught once: everything the event and its evidence need."""

    offence: str  # red_light, wrong_way, speed
    kind: str  # the event kind (config: the law mapping in plugins.toml makes it a violation)
    camera_id: str
    preset: str | None
    zone_id: str | None
    track_id: int
    label: str
    stream_time: float
    wall_time: datetime
    box: Box  # the vehicle in the snapshot (this frame)
    score: float
    ref: Hashable
    crop: Box  # where to read the plate: the box grown, inside the picture
    first_seen: float  # stream time the vehicle was first tracked
    legal_basis: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)  # the offence's own measurements

    def detail(self, pre_s: float) -> dict[str, Any]:
        return {
            "offence": self.offence,
            "class": self.label,
            "legal_basis": self.legal_basis,
            **self.facts,
            "snapshot_frame": {
                "ref": self.ref if isinstance(self.ref, (int, str)) else None,
                "stream_time": round(self.stream_time, 3),
                "wall_time": self.wall_time.isoformat(),
                "box": [round(v, 1) for v in self.box],
                "score": round(self.score, 3),
            },
            "plate_crop": [round(v, 1) for v in self.crop],
            "clip": {"from_stream_s": round(max(self.stream_time - pre_s, 0.0), 3), "to_stream_s": round(self.stream_time, 3), "pre_s": pre_s},
        }

    def event(self, pre_s: float, snapshot: Snapshot | None = None, clip_id: str | None = None) -> Event:
        """The event; the core sets agency, area and mode (education: a warning, never a ticket)."""
        return Event(
            kind=self.kind,
            camera_id=self.camera_id,
            preset_id=self.preset,
            wall_time=self.wall_time,
            stream_time=max(self.stream_time, 0.0),
            zone_id=self.zone_id,
            track_id=self.track_id,
            detail=self.detail(pre_s),
            snapshot=snapshot,
            clip_id=clip_id,
        )


def ground(box: Box, width: int, height: int) -> tuple[float, float]:
    """Where the vehicle stands, in fractions: the bottom centre of its box."""
    return ((box[0] + box[2]) / 2 / width, box[3] / height)


def grown(box: Box, margin: float, width: int, height: int) -> Box:
    dx, dy = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    return (max(box[0] - dx, 0.0), max(box[1] - dy, 0.0), min(box[2] + dx, float(width)), min(box[3] + dy, float(height)))
