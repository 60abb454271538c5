"""When a lost camera is tried again: a short capped backoff, and a cheap probe meanwhile.

A real attempt (FFmpeg opening the stream) costs a few milliseconds of CPU,
and towards a camera that is switched off it blocks for the open timeout,
during which a camera that comes back goes unnoticed. So between real
attempts the camera's TCP port is probed every ``probe_interval_s``: a
refused or unanswered connect costs microseconds. While the port does not
answer, no real attempt is made (it would fail the same way); the moment it
answers after not answering (the camera is back from a reboot) the next
attempt is made at once and the backoff starts afresh, whatever the camera's
history. A port that answers while the stream still fails (a wrong path or
password, a camera whose encoder is still booting) is retried after the
backoff: doubling from ``backoff_base_s`` up to ``backoff_cap_s``, with full
jitter. A camera lost while streaming starts the backoff afresh too: it was
most likely restarted, and may be back before its port is seen closed.
Local files and URLs without a port to probe get the backoff alone.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from core.media.ingest_settings import IngestSettings

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
PROBE_TIMEOUT_S = 1.0  # a camera on the network answers a connect in milliseconds
MAX_PROBE_ADDRESSES = 2  # a name with many addresses: the first two (IPv4 and IPv6, typically)


def backoff_delay(attempt: int, settings: IngestSettings, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, full jitter.

    Full jitter spreads the reconnects of many cameras after a shared outage
    (a switch reboot) instead of having them all knock at once.
    """
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2 ** min(attempt - 1, 30))
    return max(0.05, rng.uniform(0, ceiling))


def probe_target(url: str) -> tuple[str, int] | None:
    """The host and TCP port a connection to ``url`` starts with; ``None`` for files and unknown schemes."""
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port out of range: the real attempt says so
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


def probe(addresses: list[tuple], timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` if the camera's port accepts a TCP connection, else why not (one lower-case line)."""
    why = "no answer"
    for family, kind, proto, _name, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return None
        except TimeoutError:
            why = f"no answer within {timeout:g} s"
        except OSError as exc:
            text = exc.strerror or type(exc).__name__
            why = text[:1].lower() + text[1:]
    return why


class Reconnect:
    """One camera's retry schedule, used by its ingest thread only."""

    def __init__(
        self, url: str, settings: IngestSettings, rng: random.Random, stop: threading.Event
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.stop = stop
        self.target = probe_target(url) if settings.probe_interval_s > 0 else None
        self.step = 0  # failed attempts since the backoff last started afresh
        self.probes = 0

    def lost(self, online_for: float) -> None:
        """The stream was lost after ``online_for`` seconds online: the backoff starts afresh."""
        self.step = 0

    def wait(self) -> Iterator[str]:
        """Block until the next real attempt is due, or until stopped; yields each failed probe's reason."""
        self.step += 1
        deadline = time.monotonic() + backoff_delay(self.step, self.settings, self.rng)
        addresses = self._addresses()
        if not addresses:
            self.stop.wait(max(0.0, deadline - time.monotonic()))
            return
        interval = self.settings.probe_interval_s
        seen_closed = False
        while not self.stop.is_set():
            started = time.monotonic()
            why = probe(addresses)
            self.probes += 1
            if why is None:
                if seen_closed:
                    self.step = 0  # back from a reboot: try now, and back off afresh from here
                    return
                # it answers but the stream failed: no more probing (connects) of a live camera
                self.stop.wait(max(0.0, deadline - time.monotonic()))
                return
            seen_closed = True
            yield why
            self.stop.wait(max(0.0, started + interval - time.monotonic()))

    def _addresses(self) -> list[tuple]:
        if self.target is None:
            return []
        host, port = self.target
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []  # the real attempt says why (core.media.failures.resolve), at the backoff's pace
        return found[:MAX_PROBE_ADDRESSES]
