"""The kinds of zone operators draw; a module of its own so that the deployment's config can check names.

The rules (plugins) choose the kinds they watch; ``core.analytics.zones`` holds the zones themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ZoneKind(StrEnum):
    """What a zone is for; the rules (plugins) choose the kinds they watch."""

    NO_PARKING = "no_parking"  # a vehicle may not stay (parking rule; longer threshold)
    NO_STOPPING = "no_stopping"  # a vehicle may not even stop (parking rule; short threshold)
    TRAFFIC_LANE = "traffic_lane"  # traffic flows one way (``direction``): wrong way, sudden stops
    STOP_LINE = "stop_line"  # the strip before a stop line: red-light crossing; stops here are normal
    QUEUE_AREA = "queue_area"  # where vehicles queue (junction, bus stop): stops here are normal
    WATCHED_AREA = "watched_area"  # people watched for loitering, crowds, running
    RESTRICTED_AREA = "restricted_area"  # nobody should be here (out of hours, if windows say so)


def parse_kind(value: Any) -> ZoneKind:
    """A :class:`ZoneKind` from its name; ``ValueError`` naming the known kinds otherwise."""
    if isinstance(value, ZoneKind):
        return value
    try:
        return ZoneKind(value)
    except ValueError:
        known = ", ".join(k.value for k in ZoneKind)
        raise ValueError(f"unknown zone kind {value!r} (kinds: {known})") from None
