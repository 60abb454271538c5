"""The accident watch's typed config: what counts as a suspected accident, and which PTZ presets cover which spot.

Speeds are in **box sizes per second** (the larger side of the vehicle's box):
a camera's perspective makes pixels meaningless across the picture, a
vehicle's own size is not. A car at 30 km/h seen from a pole moves about one
size a second; one that stands still, none.

Defaults suit Balikpapan's Dishub cameras at 5 analysed frames a second
(``shared/DOMAIN.md``): an alert reaches the control room within about three
seconds of the stop.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.analytics.zones import ZoneKind, parse_kind
from core.config import CameraId
from core.events.types import REF, Priority

VEHICLES = ("car", "truck", "bus", "motorcycle")


def _kind(value: str) -> str:
    return parse_kind(value).value  # "unknown zone kind 'x' (kinds: ...)"


def _ref(value: str) -> str:
    if not REF.match(value):
        raise ValueError(f"{value!r}: letters, digits, '_', '.', ':' or '-', at most 64")
    return value


KindName = Annotated[str, AfterValidator(_kind)]
Ref = Annotated[str, AfterValidator(_ref)]


class Coverage(BaseModel):
    """One PTZ preset that looks at (part of) what an analysed camera sees.

    ``ptz_camera``'s preset ``preset`` covers camera ``camera``'s ``zones``
    (none listed: all of its picture). An alert in one of those zones offers to
    turn ``ptz_camera`` to ``preset``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: CameraId  # the analysed camera whose spot the preset covers
    zones: list[Ref] = []  # its zones the preset covers; none: the whole picture
    ptz_camera: CameraId
    preset: Ref


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraId] = []  # the cameras analysed; none listed: every camera
    fps: float = Field(default=5.0, gt=0, le=25)  # frames a second analysed (detector and tracker, shared)
    lane_kinds: list[KindName] = [ZoneKind.TRAFFIC_LANE.value]  # where a stop is suspicious
    excused_kinds: list[KindName] = [ZoneKind.STOP_LINE.value, ZoneKind.QUEUE_AREA.value]  # stopping here is normal
    traffic_labels: list[str] = Field(default=list(VEHICLES), min_length=1)
    person_labels: list[str] = ["person"]
    # an abrupt stop: moving at least min_speed (sizes/s) less than stop_within_s before it stood still
    min_speed: float = Field(default=0.45, gt=0, le=20)
    stop_within_s: float = Field(default=1.5, gt=0, le=10)
    confirm_s: float = Field(default=2.0, ge=0, le=60)  # ... and it stood still this long: the alert
    watch_gap_s: float = Field(default=1.0, gt=0, le=60)  # ... seen all along: no longer gap between sightings
    meet_iou: float = Field(default=0.08, gt=0, le=1)  # two vehicles' boxes overlapping this much have met
    # a vehicle's longer side, as a share of the picture's height, below which its stops are not judged: a car
    # far up the road moves a few pixels a second and, receding, reads as standing still while it drives away
    min_size: float = Field(default=0.08, ge=0, le=1)
    # ... and whose box, once it stood, stays within this factor of its size then: a car driving away up the road
    # shrinks with its centre nearly still, which the tracker (centres) reads as standing
    steady_size: float = Field(default=1.25, ge=1, le=10)
    # ... and that the detector has boxed at sure_score or more within sure_within_s: the tracker keeps a standing
    # car on the detector's unsure boxes, and a far car's track can stay behind on a faint patch when it drives on
    sure_score: float = Field(default=0.5, ge=0, le=1)
    sure_within_s: float = Field(default=0.6, gt=0, le=60)
    # a person down: the box at least down_aspect times as wide as tall, for down_s, standing in a lane (a rider
    # on a motorcycle, seen from the front or behind, is about square: 1.1 took one waiting in traffic for a fall)
    down_aspect: float = Field(default=1.5, gt=0, le=10)
    down_s: float = Field(default=2.0, ge=0, le=60)
    down_drift: float = Field(default=0.5, gt=0, le=10)  # ... lying still: its centre within this many box sizes meanwhile
    # a second look (second_look.py) for a person lost in a lane: the square around them turned a quarter each
    # way, through the detector, for look_s after the loss, at most look_people a frame; a person found there
    # with at least look_score is seen again, lying
    second_look: bool = True
    look_s: float = Field(default=5.0, gt=0, le=60)
    look_people: int = Field(default=2, ge=1, le=16)
    look_score: float = Field(default=0.5, gt=0, le=1)
    clear_s: float = Field(default=5.0, gt=0, le=3600)  # nothing seen standing on an incident's spot this long: over
    max_frame_gap_s: float = Field(default=10.0, gt=0, le=600)  # a longer gap is a break: nobody looked
    priority: Priority = "high"
    coverage: list[Coverage] = []  # the PTZ presets that cover each analysed camera's spots
    response_window: int = Field(default=500, ge=1, le=100_000)  # acknowledged alerts kept for the figures

    @model_validator(mode="after")
    def _apart(self) -> Config:
        both = sorted(set(self.lane_kinds) & set(self.excused_kinds))
        if both:
            raise ValueError(f"zone kind {', '.join(both)} is both a lane kind and an excused kind: pick one")
        if not self.lane_kinds:
            raise ValueError("lane_kinds: name at least one zone kind (traffic_lane)")
        return self
