"""The vocabulary of the media core: packets and stream descriptions.

Packets travel from the ingest thread to the multiplexer and on to every
subscriber unchanged: no decode, no re-encode, no copy of the payload.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a camera sends, learned from the first packets of a connection."""

    codec: str  # "h264" or "hevc"
    width: int
    height: int
    time_base: Fraction
    profile_level_id: str | None = None  # H.264 only: six hex digits, e.g. "640028"
    parameter_sets: bytes = b""  # Annex-B SPS/PPS (and VPS for H.265)
    fps: float | None = None


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One access unit in Annex-B, parameter sets in front of every keyframe."""

    data: bytes
    pts: int | None
    dts: int | None
    time_base: Fraction
    keyframe: bool
    arrival: float  # time.monotonic() when demuxed
    generation: int  # bumps on every (re)connect: a discontinuity for subscribers


class CameraState(str, enum.Enum):
    STARTING = "starting"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CameraStatus:
    state: CameraState
    reason: str | None = None
    since: float | None = None  # time.time() of the last state change
    last_packet_at: float | None = None  # time.time()
    attempts: int = 0
