"""The small typed interfaces that plugins hand the core.

Plugins implement these; the core depends only on them, never on a plugin.
Events and descriptions are frozen dataclasses with explicit fields.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

AGENCIES = ("dishub", "polri", "kejaksaan", "pemkot")
ROLES = ("viewer", "operator", "officer", "prosecutor", "admin")


class Capability(str, enum.Enum):
    PTZ = "ptz"
    PRESETS = "presets"
    ZOOM = "zoom"
    SNAPSHOT = "snapshot"
    MOBILE = "mobile"


@dataclass(frozen=True)
class StreamSource:
    """Where and how the core opens one stream of a camera.

    ``url`` may be ``rtsp://``, ``rtsps://``, ``http(s)://`` or a local file path.
    Credentials are kept apart from the URL so that they never reach a log or
    an API answer (``repr`` hides them).
    """

    url: str
    transport: str = "tcp"  # rtsp transport: tcp or udp
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    realtime_loop: bool = False  # a local file, looped at its own frame rate
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    id: str
    name: str


@dataclass(frozen=True)
class CameraInfo:
    """One camera as a driver describes it."""

    id: str
    name: str
    agency: str
    driver: str
    main: StreamSource
    area: str | None = None
    lat: float | None = None
    lon: float | None = None
    sub: StreamSource | None = None
    capabilities: frozenset[Capability] = frozenset()
    presets: tuple[Preset, ...] = ()


@runtime_checkable
class CameraDriver(Protocol):
    """A source of cameras: one per vendor or agency inventory."""

    name: str

    async def cameras(self) -> list[CameraInfo]:
        """The cameras this driver offers, read once at start-up."""
        ...


@runtime_checkable
class Analyzer(Protocol):
    """Looks at a camera's video and emits events."""

    name: str


@runtime_checkable
class EventSink(Protocol):
    """Receives events (violations, incidents) for delivery elsewhere."""

    name: str

    async def handle(self, event: Any) -> None: ...


@dataclass(frozen=True)
class Job:
    """A periodic job for the scheduler.

    Exactly one of ``seconds`` (an interval) or ``cron`` (a five-field crontab
    string, in the deployment's time zone) is set. ``func`` may be sync (run in
    a worker thread) or async.
    """

    id: str
    func: Callable[[], Any] | Callable[[], Awaitable[Any]]
    seconds: float | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"job {self.id!r}: set exactly one of seconds or cron")


@dataclass(frozen=True)
class ModelSet:
    """A plugin's tortoise models and their migrations."""

    app: str  # tortoise app label, unique
    models: str  # dotted module path
    migrations: str | None = None  # dotted package path of tortoise migrations
