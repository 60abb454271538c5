"""The ETLE rules' typed config: per offence its event kind, thresholds and legal basis; per camera its fixtures.

Defaults are Balikpapan's (``shared/DOMAIN.md``): UU 22/2009 Pasal 287 ayat (2)
for the traffic light (APILL), ayat (1) for a sign or marking (a one-way lane,
hence wrong way), ayat (5) for speed, each at most two months or Rp500,000, and
50 km/h, the urban maximum. Amounts change by law, so every legal reference is
a key here.

What a camera sees of the junction that a zone cannot say lives here, per camera
(and PTZ preset): where its picture shows the signal head (``signals``) and the
two lines a known distance apart that calibrate it for speed (``speed_lines``).
A camera without ``speed_lines`` never measures a speed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import CameraId

VEHICLES = ("car", "truck", "bus", "motorcycle")
Fraction = float  # 0..1 of the picture's width or height
_UNIT = {"ge": 0.0, "le": 1.0}


class LegalBasis(BaseModel):
    """What an offence breaks and what the law allows for it; printed on the evidence, never computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    law: str = Field(default="UU No. 22 Tahun 2009 (LLAJ)", min_length=1, max_length=200)
    article: str = Field(min_length=1, max_length=200)  # the penalty
    duty: str = Field(default="", max_length=200)  # the duty it enforces
    max_fine_idr: int = Field(default=500_000, ge=0)
    max_jail_months: int = Field(default=2, ge=0)


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float = Field(**_UNIT)
    y: float = Field(**_UNIT)


class SignalHead(BaseModel):
    """Where one camera's picture shows the signal head that governs its stop line: a box in fractions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: CameraId
    preset: str | None = None  # the PTZ preset that shows it; None: a fixed camera
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in fractions of the picture

    @model_validator(mode="after")
    def _box(self) -> SignalHead:
        x1, y1, x2, y2 = self.box
        if not all(0.0 <= v <= 1.0 for v in self.box):
            raise ValueError("box: x1, y1, x2, y2 are fractions of the picture, 0 to 1")
        if x2 <= x1 or y2 <= y1:
            raise ValueError("box: x2 must exceed x1 and y2 exceed y1")
        return self


class SpeedLines(BaseModel):
    """A camera calibrated for speed: two lines across the lanes, ``distance_m`` apart on the road."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: CameraId
    preset: str | None = None
    first: tuple[Point, Point]
    second: tuple[Point, Point]
    distance_m: float = Field(gt=0, le=500)  # measured on site, between the lines along the lane
    limit_kmh: float | None = Field(default=None, gt=0, le=200)  # None: the rule's limit_kmh


class RedLight(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    event_kind: str = Field(default="red_light.violation", pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    legal_basis: LegalBasis = LegalBasis(article="Pasal 287 ayat (2)", duty="Pasal 106 ayat (4) huruf c")
    grace_s: float = Field(default=1.0, ge=0, le=10)  # a crossing this soon after red starts is the amber's tail
    confirm_frames: int = Field(default=2, ge=1, le=25)  # readings in a row that change the light's state
    unknown_after_s: float = Field(default=2.0, gt=0, le=60)  # unreadable this long: the state is unknown
    min_lit: float = Field(default=0.03, gt=0, le=1)  # share of the head's pixels lit for a reading


class WrongWay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    event_kind: str = Field(default="sign.violation", pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")  # mapped to ayat (1)
    legal_basis: LegalBasis = LegalBasis(article="Pasal 287 ayat (1)", duty="Pasal 106 ayat (4) huruf a dan b")
    min_distance: float = Field(default=0.1, gt=0, le=2)  # against the lane, fraction of the picture's diagonal
    min_s: float = Field(default=1.5, ge=0, le=60)  # ... for at least this long
    max_angle_deg: float = Field(default=60.0, gt=0, le=90)  # its way within this of the lane's opposite
    # where it is, read only from boxes the detector is this sure of: the tracker carries a vehicle's track on unsure
    # boxes (0.1-0.5), and one of those over half a queue of cars moves its ground point a car length at once
    sure_score: float = Field(default=0.5, ge=0, le=1)
    # ... and no longer than this without a sure box, or the count starts afresh: a lost track found again may be
    # on another vehicle (seed 808: a car standing in the queue, lost, and its id on a truck 500 px away 2 s later)
    max_gap_s: float = Field(default=1.0, gt=0, le=60)


class Speed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    event_kind: str = Field(default="speed.violation", pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    legal_basis: LegalBasis = LegalBasis(article="Pasal 287 ayat (5)", duty="Pasal 106 ayat (4) huruf g")
    limit_kmh: float = Field(default=50.0, gt=0, le=200)  # urban maximum (PM 111/2015) where a camera names none
    margin_kmh: float = Field(default=5.0, ge=0, le=50)  # fires above limit + margin: the measurement's error
    max_gap_s: float = Field(default=30.0, gt=0, le=600)  # the second line this long after the first: no measurement


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraId] = []  # the cameras analysed; none listed: every camera
    fps: float = Field(default=10.0, gt=0, le=25)  # frames a second analysed: speed needs 10 (a car at 80 km/h moves 2 m a frame)
    speed_fps: float | None = Field(default=None, gt=0, le=25)  # on a camera with speed_lines; none: fps (red light and wrong way do with 5)
    watched_labels: list[str] = Field(default=list(VEHICLES), min_length=1)
    red_light: RedLight = RedLight()
    wrong_way: WrongWay = WrongWay()
    speed: Speed = Speed()
    signals: list[SignalHead] = []  # the signal head in each camera's picture (red light needs one, or a signal input)
    speed_lines: list[SpeedLines] = []  # the calibrated cameras: only these measure speed
    crop_margin: float = Field(default=0.1, ge=0, le=1)  # the plate crop: the vehicle's box grown this much
    clip_pre_s: float = Field(default=4.0, ge=0, le=60)  # the evidence clip: this long before the offence
    clip_post_s: float = Field(default=2.0, ge=0, le=60)  # ... and after

    @model_validator(mode="after")
    def _once(self) -> Config:
        for name, items in (("signals", self.signals), ("speed_lines", self.speed_lines)):
            seen: set[tuple[str, str | None]] = set()
            for item in items:
                key = (item.camera, item.preset)
                if key in seen:
                    where = f"{item.camera}" + (f" preset {item.preset}" if item.preset else "")
                    raise ValueError(f"{name}: {where} is given twice")
                seen.add(key)
        return self

    def signal_head(self, camera: str, preset: str | None) -> SignalHead | None:
        return next((s for s in self.signals if s.camera == camera and s.preset == preset), None)

    def fps_for(self, camera: str) -> float:
        """Frames a second for this camera: ``speed_fps`` where any of its views has speed lines, else ``fps``."""
        if self.speed_fps is not None and any(s.camera == camera for s in self.speed_lines):
            return self.speed_fps
        return self.fps

    def calibration(self, camera: str, preset: str | None) -> SpeedLines | None:
        return next((s for s in self.speed_lines if s.camera == camera and s.preset == preset), None)
