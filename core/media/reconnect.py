"""When a lost camera is tried again."""

from __future__ import annotations

import random

from core.media.ingest_settings import IngestSettings


def backoff_delay(attempt: int, settings: IngestSettings, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, full jitter.

    Full jitter spreads the reconnects of many cameras after a shared outage
    (a switch reboot) instead of having them all knock at once.
    """
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2 ** min(attempt - 1, 30))
    return max(0.05, rng.uniform(0, ceiling))
