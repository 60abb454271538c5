"""Crime watch's typed config: thresholds, hours and priorities, with Balikpapan's defaults.

Loitering counts at night (22:00-05:00 WITA) in a watched area drawn without
hours of its own, and five minutes make a loiterer; eight people make a crowd;
three who break into a run at once make a running alert. None of these is a
violation of a law: they are alerts for an operator, so there is no legal basis
here, only a priority each.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.analytics.zones import TimeWindow, ZoneKind, parse_kind
from core.config import CameraId
from core.events.types import Priority


def _kind(value: str) -> str:
    return parse_kind(value).value  # "unknown zone kind 'x' (kinds: ...)"


KindName = Annotated[str, AfterValidator(_kind)]


class Window(BaseModel):
    """Local hours ``start``-``end`` (HH:MM); an end before the start runs across midnight."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")

    @model_validator(mode="after")
    def _valid(self) -> Window:
        self.window()  # "16:60-17:00: minute 60 is not a minute" and the like
        return self

    def window(self) -> TimeWindow:
        return TimeWindow.parse(f"{self.start}-{self.end}")


class Priorities(BaseModel):
    """The priority of each alert (``core.events.types.Event.priority``): how operators' lists sort them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loitering: Priority = "normal"
    crowd: Priority = "normal"
    restricted_area: Priority = "high"
    running: Priority = "high"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraId] = []  # the cameras analysed; none listed: every camera
    fps: float = Field(default=5.0, gt=0, le=25)  # frames a second analysed
    watched_labels: list[str] = Field(default=["person"], min_length=1)  # what counts as a person
    watched_kinds: list[KindName] = Field(default=[ZoneKind.WATCHED_AREA.value], min_length=1)
    restricted_kinds: list[KindName] = [ZoneKind.RESTRICTED_AREA.value]
    # loitering
    loiter_s: float = Field(default=300.0, gt=0, le=86_400)  # in a watched area this long (a zone's dwell_s wins)
    loiter_windows: list[Window] = [Window(start="22:00", end="05:00")]  # hours of watched areas without their own
    leave_s: float = Field(default=5.0, ge=0, le=600)  # outside the zone this long: the stay ends
    occlusion_s: float = Field(default=3.0, ge=0, le=600)  # a hidden person still counts this long
    rematch_s: float = Field(default=10.0, ge=0, le=600)  # a new track where a lost one was, this soon, continues it
    rematch_heights: float = Field(default=1.5, gt=0, le=20)  # ... this many box heights from where it was lost
    # ... unless dressed plainly otherwise (clothing.py: upper-body colour, held in memory with the stay only):
    # brightness this many times apart, or hue by this much; false: boxes alone decide
    clothing_check: bool = True
    clothing_ratio: float = Field(default=2.5, gt=1, le=100)
    clothing_chroma: float = Field(default=0.12, gt=0, le=1)
    # crowd
    crowd_size: int = Field(default=8, ge=2, le=1000)  # at least this many people in one watched area
    crowd_s: float = Field(default=10.0, ge=0, le=3600)  # ... for this long
    crowd_still_s: float = Field(default=1.0, ge=0, le=600)  # people count who stood this long (0: everyone)
    crowd_drift: float = Field(default=0.1, ge=0, le=50)  # ... or drifted under this (heights/s, over 3 s)
    crowd_hysteresis: int = Field(default=2, ge=0, le=1000)  # the gathering is over below crowd_size minus this
    crowd_clear_s: float = Field(default=10.0, ge=0, le=3600)  # ... for this long
    # restricted area
    restricted_s: float = Field(default=3.0, ge=0, le=3600)  # in a restricted area, in its hours, this long
    # running
    run_speed: float = Field(default=1.8, gt=0, le=50)  # box heights a second: running (a walk is 0.5-1)
    calm_speed: float = Field(default=1.0, gt=0, le=50)  # at most this: walking or standing
    min_runners: int = Field(default=3, ge=2, le=100)  # this many break into a run ...
    run_window_s: float = Field(default=2.0, gt=0, le=60)  # ... within this many seconds of each other
    onset_s: float = Field(default=3.0, gt=0, le=60)  # sudden: calm at most this long before running
    run_clear_s: float = Field(default=5.0, ge=0, le=600)  # nobody running this long: the next burst is new
    priorities: Priorities = Priorities()
    max_frame_gap_s: float = Field(default=10.0, gt=0, le=600)  # a longer gap is a break: nobody looked

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        both = sorted(set(self.watched_kinds) & set(self.restricted_kinds))
        if both:
            raise ValueError(f"zone kind {', '.join(both)} is both watched and restricted: pick one")
        if self.calm_speed >= self.run_speed:
            raise ValueError(f"calm_speed ({self.calm_speed:g}) must be below run_speed ({self.run_speed:g})")
        if self.crowd_hysteresis >= self.crowd_size:
            raise ValueError(f"crowd_hysteresis ({self.crowd_hysteresis}) must be below crowd_size ({self.crowd_size})")
        return self
