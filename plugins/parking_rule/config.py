"""The parking rule's typed config: thresholds, hours and legal basis per zone kind, as data.

Defaults are Balikpapan's (``shared/DOMAIN.md``): no parking 16:00-19:00 WITA on
the Kawasan Tertib Lalu Lintas, two minutes' grace to park, thirty seconds to
stop, and Pasal 287 ayat (3) UU 22/2009 (how to stop and park: at most one month
or Rp250,000). Amounts change by law, so every legal reference is a key here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.analytics.zones import TimeWindow, ZoneKind, parse_kind
from core.config import CameraId

VEHICLES = ("car", "truck", "bus", "motorcycle")


def _kind(value: str) -> str:
    return parse_kind(value).value  # "unknown zone kind 'x' (kinds: ...)"


KindName = Annotated[str, AfterValidator(_kind)]


class Window(BaseModel):
    """Local hours ``start``-``end`` (HH:MM); an end before the start runs across midnight."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")

    def window(self) -> TimeWindow:
        return TimeWindow.parse(f"{self.start}-{self.end}")


class LegalBasis(BaseModel):
    """What a violation breaks and what the law allows for it; printed on the evidence, never computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    law: str = Field(default="UU No. 22 Tahun 2009 (LLAJ)", min_length=1, max_length=200)
    article: str = Field(default="Pasal 287 ayat (3)", min_length=1, max_length=200)  # the penalty
    duty: str = Field(default="Pasal 43, Pasal 106 ayat (4) huruf e", max_length=200)  # the duty it enforces
    max_fine_idr: int = Field(default=250_000, ge=0)
    max_jail_months: int = Field(default=1, ge=0)


class KindRule(BaseModel):
    """How the rule treats one zone kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dwell_s: float | None = Field(default=None, gt=0, le=86_400)  # None: the rule's dwell_s
    legal_basis: LegalBasis = LegalBasis()


def _default_kinds() -> dict[str, KindRule]:
    return {
        ZoneKind.NO_PARKING.value: KindRule(),
        ZoneKind.NO_STOPPING.value: KindRule(
            dwell_s=30.0, legal_basis=LegalBasis(duty="Pasal 106 ayat (4) huruf e, Pasal 118")
        ),
    }


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraId] = []  # the cameras analysed; none listed: every camera
    fps: float = Field(default=5.0, gt=0, le=25)  # frames a second analysed (detector and tracker, shared)
    dwell_s: float = Field(default=120.0, gt=0, le=86_400)  # threshold of a watched kind that names none
    windows: list[Window] = [Window(start="16:00", end="19:00")]  # hours of zones drawn without their own
    kinds: dict[KindName, KindRule] = Field(default_factory=_default_kinds)  # the zone kinds watched
    queue_kinds: list[KindName] = [ZoneKind.QUEUE_AREA.value, ZoneKind.STOP_LINE.value]  # stopping here is normal
    watched_labels: list[str] = Field(default=list(VEHICLES), min_length=1)
    min_still_s: float = Field(default=1.0, ge=0, le=60)  # stood still this long before a stay starts
    occlusion_s: float = Field(default=30.0, ge=0, le=600)  # a hidden vehicle's timer runs this long ...
    cover_share: float = Field(default=0.3, gt=0, le=1)  # ... while a box seen now covers this much of its box
    miss_s: float = Field(default=3.0, ge=0, le=600)  # a vehicle unseen with nothing in front: its timer runs this long
    leave_s: float = Field(default=3.0, ge=0, le=600)  # outside every watched zone this long: the stay ends
    ptz_grace_s: float = Field(default=300.0, ge=0, le=86_400)  # a view's timers wait this long for the camera
    rematch_iou: float = Field(default=0.5, gt=0, le=1)  # same spot on the next visit: at least this overlap
    rematch_still_s: float = Field(default=3.0, ge=0, le=600)  # ... and standing still since it was first seen
    max_frame_gap_s: float = Field(default=10.0, gt=0, le=600)  # a longer gap is a break: nobody looked
    crop_margin: float = Field(default=0.1, ge=0, le=1)  # the plate crop: the vehicle's box grown this much
    plate_frames: int = Field(default=4, ge=0, le=16)  # best sightings kept per stay for the plate reader

    @field_validator("kinds")
    @classmethod
    def _some(cls, kinds: dict[str, KindRule]) -> dict[str, KindRule]:
        if not kinds:
            raise ValueError("watch at least one zone kind (no_parking, no_stopping)")
        return kinds

    @model_validator(mode="after")
    def _apart(self) -> Config:
        both = sorted(set(self.kinds) & set(self.queue_kinds))
        if both:
            raise ValueError(f"zone kind {', '.join(both)} is both watched and a queue kind: pick one")
        return self

    def threshold(self, kind: str, zone_dwell_s: float | None) -> float:
        """The zone's own ``dwell_s``, else its kind's, else the rule's."""
        if zone_dwell_s is not None:
            return zone_dwell_s
        own = self.kinds[kind].dwell_s
        return self.dwell_s if own is None else own
