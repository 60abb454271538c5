"""Zones: the areas of a camera's picture that rules watch, per PTZ preset, with their hours.

A zone is a polygon in **fractions of the picture** (x from the left edge,
y from the top, both 0..1), so it survives a change of resolution or a sub
stream of another size. A fixed camera's zones have ``preset = None``; a PTZ
camera's belong to one preset each, because each preset shows another place.

A zone may apply only at some hours (``windows``, e.g. ``"16:00-19:00"``) and
on some days (``days``, e.g. ``["mon", "fri"]``), in the deployment's local
time zone (``[deployment] timezone``, an IANA name such as Asia/Makassar). A
window whose end comes before its start runs across midnight:
``"22:00-05:00"`` is 22:00 to 05:00 the next morning, and belongs to the day
it starts on. ``"24:00"`` may end a window. Without windows a zone always
applies (on its days, if it names any).

A vehicle or a person is in a zone when the bottom centre of its box (where
it stands on the road) is inside the polygon.

Everything is checked when a zone is made, with a one-line reason: fewer than
3 points, a point outside the picture, a polygon that crosses itself, an
unknown kind, day or key, an impossible window.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from core.analytics import geometry
from core.analytics.zone_kinds import ZoneKind, parse_kind
from core.config import CameraId

MAX_POINTS = 100


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


def _day(value: Any) -> str:
    if value not in DAYS:
        raise ValueError(f"unknown day {value!r} (days: {', '.join(DAYS)})")
    return value


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class TimeWindow:
    """Local hours ``[start, end)`` in seconds after midnight; ``end < start`` runs across midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: Any) -> TimeWindow:
        if isinstance(text, TimeWindow):
            return text
        m = _WINDOW.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"{text!r} is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        for hour, minute, end in ((h1, m1, False), (h2, m2, True)):
            if minute > 59:
                raise ValueError(f"{text!r}: minute {minute} is not a minute (00-59)")
            if hour > 24 or (hour == 24 and (minute or not end)):
                raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day (00:00-23:59, or 24:00 as an end)")
        start, stop = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if stop == 24 * 3600 and start == 0:
            pass  # the whole day, said explicitly
        elif stop % (24 * 3600) == start:
            raise ValueError(f"{text!r} ends where it starts: leave windows out for a zone that always applies")
        return cls(start, stop)

    @property
    def overnight(self) -> bool:
        return self.end < self.start

    def __str__(self) -> str:
        return f"{self.start // 3600:02d}:{self.start % 3600 // 60:02d}-{self.end // 3600:02d}:{self.end % 3600 // 60:02d}"


def _in_picture(point: tuple[float, float]) -> tuple[float, float]:
    x, y = point
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(
            f"({x:g}, {y:g}) lies outside the picture: coordinates are fractions of its width and height, 0 to 1"
        )
    return point


Finite = Annotated[float, Field(allow_inf_nan=False)]
Point = Annotated[tuple[Finite, Finite], AfterValidator(_in_picture)]
Window = Annotated[TimeWindow, BeforeValidator(TimeWindow.parse), PlainSerializer(str, return_type=str)]
Day = Annotated[str, BeforeValidator(_day)]
ZONE_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"


@functools.lru_cache(maxsize=32)
def _zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Makassar)") from None


class Zone(BaseModel):
    """One zone of one camera (and preset). Immutable; build it with ``Zone.model_validate(dict)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ZONE_ID_PATTERN, max_length=64)  # unique within its camera
    name: str = Field(min_length=1, max_length=200)  # shown to operators
    kind: ZoneKind
    preset: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # its PTZ preset; None: a fixed camera
    points: tuple[Point, ...] = Field(max_length=MAX_POINTS)  # corners in order, fractions of the picture
    direction: tuple[Finite, Finite] | None = None  # traffic_lane only: the way traffic flows, (dx, dy) in fractions
    windows: tuple[Window, ...] = ()  # local hours when the zone applies; none: always
    days: tuple[Day, ...] = ()  # days when it applies ("mon".."sun"); none: every day
    dwell_s: float | None = Field(default=None, gt=0, le=86_400)  # this zone's threshold; None: the rule's default

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> ZoneKind:
        return parse_kind(value)

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        problem = geometry.polygon_problem(points)
        if problem:
            raise ValueError(problem)
        return points

    @model_validator(mode="after")
    def _direction(self) -> Zone:
        if self.kind is ZoneKind.TRAFFIC_LANE:
            if self.direction is None:
                raise ValueError("a traffic_lane zone needs a direction [dx, dy]: the way traffic flows in the picture")
            if self.direction == (0.0, 0.0):
                raise ValueError("direction must not be [0, 0]")
        elif self.direction is not None:
            raise ValueError(f"direction is only for traffic_lane zones, not {self.kind.value}")
        return self

    # --- where ---------------------------------------------------------------

    def contains(self, x: float, y: float) -> bool:
        """Whether the point ``(x, y)``, in fractions of the picture, is inside."""
        return geometry.contains(self.points, x, y)

    def contains_box(self, box: tuple[float, float, float, float], width: float, height: float) -> bool:
        """Whether a box (x1, y1, x2, y2, pixels of a ``width`` x ``height`` picture) stands in the zone.

        Its bottom centre decides: where a vehicle's wheels or a person's feet are.
        """
        x1, _, x2, y2 = box
        return geometry.contains(self.points, (x1 + x2) / 2 / width, y2 / height)

    def direction_px(self, width: float, height: float) -> tuple[float, float]:
        """The lane's direction in pixels of a ``width`` x ``height`` picture (not normalised)."""
        if self.direction is None:
            raise ValueError(f"zone {self.id!r} is a {self.kind.value}, it has no direction")
        return (self.direction[0] * width, self.direction[1] * height)

    # --- when ----------------------------------------------------------------

    def active_at(self, when: datetime, tz: tzinfo | str) -> bool:
        """Whether the zone applies at ``when`` (an aware datetime, in any zone), judged in local time ``tz``.

        ``tz`` is the deployment's time zone (``ZoneInfo`` or its name). A window
        across midnight counts for the day it starts on: with ``days = ["fri"]``,
        ``"22:00-05:00"`` covers Friday 22:00 to Saturday 05:00.
        """
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("a naive datetime has no time zone: give an aware one (e.g. datetime.now(timezone.utc))")
        local = when.astimezone(_zone_info(tz) if isinstance(tz, str) else tz)
        weekday = local.weekday()
        days = self.days
        if not self.windows:
            return not days or DAYS[weekday] in days
        second = local.hour * 3600 + local.minute * 60 + local.second
        yesterday = (weekday - 1) % 7
        for window in self.windows:
            if not window.overnight:
                if window.start <= second < window.end and (not days or DAYS[weekday] in days):
                    return True
            else:
                if second >= window.start and (not days or DAYS[weekday] in days):
                    return True
                if second < window.end and (not days or DAYS[yesterday] in days):
                    return True
        return False


class CameraZones(BaseModel):
    """All zones of one camera, across its presets; zone ids are unique within it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: CameraId
    zones: tuple[Zone, ...] = ()

    @field_validator("zones")
    @classmethod
    def _unique(cls, zones: tuple[Zone, ...]) -> tuple[Zone, ...]:
        seen: set[str] = set()
        for zone in zones:
            if zone.id in seen:
                raise ValueError(f"zone id {zone.id!r} is used twice")
            seen.add(zone.id)
        return zones

    def for_preset(self, preset: str | None) -> tuple[Zone, ...]:
        """The zones of one view: a preset's, or a fixed camera's (``None``)."""
        return tuple(z for z in self.zones if z.preset == preset)

    def containing(
        self,
        box: tuple[float, float, float, float],
        width: float,
        height: float,
        preset: str | None,
        *,
        when: datetime | None = None,
        tz: tzinfo | str | None = None,
        kinds: Iterable[ZoneKind] | None = None,
    ) -> list[Zone]:
        """The zones of the view where the box stands; with ``when`` (and ``tz``) only those active then."""
        wanted = set(kinds) if kinds is not None else None
        found = []
        for zone in self.for_preset(preset):
            if wanted is not None and zone.kind not in wanted:
                continue
            if not zone.contains_box(box, width, height):
                continue
            if when is not None:
                if tz is None:
                    raise ValueError("give the deployment's time zone (tz) with when")
                if not zone.active_at(when, tz):
                    continue
            found.append(zone)
        return found
