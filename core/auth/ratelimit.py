"""Failed-login rate limits, per username and per client address (in memory).

One limiter per app. An attempt is counted when it starts (:meth:`begin`),
before the slow password check, so that parallel guesses cannot all pass the
check while none has failed yet; :meth:`end` turns it into a failure or drops
it. Failures are kept in a moving window: a client that keeps guessing stays
locked out until its oldest failure leaves the window.

A username that is locked (too many failures from anywhere) still lets in a
correct password from an address that has no failure and no attempt under
way: otherwise anyone could lock any user out with five wrong passwords. A
wrong password from such an address spends it, so each address still gets at
most one guess while the username is locked (see docs/security.md).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from limits import parse

PER_USERNAME = "5/minute"
PER_ADDRESS = "30/minute"
MAX_KEYS = 100_000  # bounds memory under a spray of usernames or addresses


class _Window:
    """Failures of one key inside the window, and attempts under way."""

    __slots__ = ("failures", "pending")

    def __init__(self) -> None:
        self.failures: deque[float] = deque()
        self.pending = 0


class LoginLimiter:
    def __init__(
        self,
        per_username: str = PER_USERNAME,
        per_address: str = PER_ADDRESS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        user, addr = parse(per_username), parse(per_address)
        self._limit = {"user": (user.amount, user.get_expiry()), "addr": (addr.amount, addr.get_expiry())}
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    @staticmethod
    def _user_key(username: str) -> tuple[str, str]:
        return ("user", username.lower()[:128])

    def _window(self, key: tuple[str, str], now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_KEYS:
                self._prune(now)
            window = self._windows[key] = _Window()
        _, period = self._limit[key[0]]
        while window.failures and window.failures[0] <= now - period:
            window.failures.popleft()
        return window

    def _prune(self, now: float) -> None:
        for key in list(self._windows):
            window = self._window(key, now)
            if not window.failures and not window.pending:
                del self._windows[key]
        while len(self._windows) >= MAX_KEYS:  # all busy: forget the oldest keys
            del self._windows[next(iter(self._windows))]

    def _wait(self, key: tuple[str, str], window: _Window, now: float) -> int:
        _, period = self._limit[key[0]]
        if not window.failures:  # spent by attempts still under way
            return 1
        return max(1, math.ceil(window.failures[0] + period - now))

    def begin(self, username: str, address: str) -> int | None:
        """Count an attempt: ``None`` if it may go on (then call :meth:`end`), else seconds to wait."""
        now = self._clock()
        user_key, addr_key = self._user_key(username), ("addr", address)
        user, addr = self._window(user_key, now), self._window(addr_key, now)
        addr_used = len(addr.failures) + addr.pending
        if addr_used >= self._limit["addr"][0]:
            return self._wait(addr_key, addr, now)
        if len(user.failures) + user.pending >= self._limit["user"][0] and addr_used > 0:
            return self._wait(user_key, user, now)
        user.pending += 1
        addr.pending += 1
        return None

    def end(self, username: str, address: str, ok: bool) -> None:
        """The attempt begun with :meth:`begin` is over: a failure unless ``ok``."""
        now = self._clock()
        user_key, addr_key = self._user_key(username), ("addr", address)
        for key in (user_key, addr_key):
            window = self._window(key, now)
            window.pending = max(0, window.pending - 1)
            if not ok:
                window.failures.append(now)
        if ok:
            self._windows[user_key].failures.clear()
