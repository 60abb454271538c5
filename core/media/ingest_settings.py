"""The ingest's settings: timeouts, reconnect policy (:mod:`core.media.reconnect`), pre-roll, hand-off bound.

Built from ``[media]`` (:class:`core.config.MediaSettings`) by the media
plugin; every ingest module reads it, none writes it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestSettings:
    open_timeout_s: float = 20.0  # connect, describe, and wait for the first keyframe
    stall_timeout_s: float = 10.0  # no packet for this long: the stream is lost
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 2.0  # short: a camera back from a reboot shows again within seconds
    probe_interval_s: float = 0.5  # TCP probe of a lost camera between real attempts; 0: none
    offline_after_s: float = 20.0  # reconnecting this long (or never online): offline
    max_jump_s: float = 5.0  # a larger timestamp step is a discontinuity (camera restart, wrap)
    ring_seconds: float = 10.0  # pre-roll kept per camera
    max_pending: int = 2000  # packets waiting for the loop, over all cameras, before dropping
