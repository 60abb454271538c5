"""What the driver conformance kit is told: one driver under test, and what to expect of it.

Its own module so that the kit (:mod:`core.testing.conformance`) and its checks
(:mod:`core.testing.conformance_checks`) both depend on it, not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.interfaces import Capability

AUTH_REASON = r"(?i)auth|credential|password|401|unauthori[sz]ed|not authori[sz]ed|forbidden"
UNREACHABLE_REASON = r"(?i)refused|resolve|unreachable|timed out|timeout|no answer|not known|cannot connect|connect"


@dataclass(frozen=True)
class Expect:
    """What a conforming camera does, and how long each thing may take."""

    stream_within_s: float = 15.0  # from opening to the first keyframe
    packets: int = 25  # packets the stream must deliver ...
    packets_within_s: float = 20.0  # ... within this long of opening
    failure_within_s: float = 15.0  # wrong credentials / unreachable host show offline (or error) by then
    command_within_s: float = 10.0  # each PTZ command
    list_within_s: float = 20.0  # cameras()
    codec: str | None = None  # "h264" or "hevc", when the test knows
    size: tuple[int, int] | None = None  # (width, height), when the test knows
    capabilities: frozenset[Capability] | None = None  # exactly these, when the test knows
    auth_reason: str = AUTH_REASON  # a regular expression the wrong-credentials reason matches
    unreachable_reason: str = UNREACHABLE_REASON  # and the unreachable-host reason


DriverFactory = Callable[[], Any]  # returns a driver, or an awaitable of one


@dataclass
class DriverCase:
    """One driver under test and one of its cameras.

    Each factory builds a fresh driver (``load_driver`` builds it from a
    deployment table, as ``bconnect serve`` does); the kit closes it after
    each check. ``wrong_credentials`` and ``unreachable`` build the same camera
    with a wrong password and on a host that cannot be reached (a closed port
    on 127.0.0.1 or a name under ``.invalid``); a case without one says why in
    ``skip`` (e.g. ``{"wrong_credentials": "a local file asks for none"}``).
    """

    name: str
    driver: DriverFactory
    wrong_credentials: DriverFactory | None = None
    unreachable: DriverFactory | None = None
    camera_id: str | None = None  # default: the first camera the driver lists
    secret: str | None = None  # the right password: it must never show in a repr, an API answer or a log
    observed: Callable[[], Sequence[Any]] | None = None  # the device's record of commands (an emulator's), if seen
    expect: Expect = field(default_factory=Expect)
    skip: Mapping[str, str] = field(default_factory=dict)  # check -> why it does not apply

    def __repr__(self) -> str:
        return f"DriverCase({self.name!r}, camera={self.camera_id!r})"
