"""One monotonic 90 kHz timeline per camera, across reconnects and camera restarts."""

from __future__ import annotations

from fractions import Fraction

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)  # every packet leaves the ingest on this clock


class Timeline:
    """Maps each connection's timestamps onto one monotonic 90 kHz timeline.

    A step backwards or a leap beyond ``max_jump`` (camera restart, 33-bit
    wrap, file loop, reconnect) continues one frame after the last output.
    """

    def __init__(self, max_jump: int) -> None:
        self.max_jump = max_jump
        self.offset = 0
        self.step = CLOCK // 25
        self.last_in: int | None = None
        self.last_out: int | None = None

    def restart(self) -> None:
        """A new connection (or loop): its first timestamp follows the last one out."""
        self.last_in = None

    def map(self, ts: int | None) -> int:
        last_out = self.last_out
        if ts is None:
            out = 0 if last_out is None else last_out + self.step
        else:
            last_in = self.last_in
            if last_in is None or last_out is None:
                self.offset = (0 if last_out is None else last_out + self.step) - ts
            else:
                delta = ts - last_in
                if delta < 0 or delta > self.max_jump:
                    self.offset = last_out + self.step - ts
                elif delta:
                    self.step = delta
            self.last_in = ts
            out = ts + self.offset
        self.last_out = out
        return out
