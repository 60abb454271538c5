"""Failed-login rate limits, per username and per client address (in memory).

One limiter per app; it counts failures in a moving window, so a client that
keeps guessing stays locked out until its oldest failure leaves the window.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_USERNAME = "5/minute"
PER_ADDRESS = "30/minute"


class LoginLimiter:
    def __init__(self, per_username: str = PER_USERNAME, per_address: str = PER_ADDRESS) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_user = parse(per_username)
        self._per_addr = parse(per_address)

    def _keys(self, username: str, address: str):
        return ((self._per_user, ("user", username.lower()[:128])), (self._per_addr, ("addr", address)))

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait if either limit is spent, else ``None``."""
        waits = []
        for item, key in self._keys(username, address):
            if not self._limiter.test(item, *key):
                stats = self._limiter.get_window_stats(item, *key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        for item, key in self._keys(username, address):
            self._limiter.hit(item, *key)

    def succeeded(self, username: str) -> None:
        self._limiter.clear(self._per_user, "user", username.lower()[:128])
