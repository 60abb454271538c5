"""The small typed interfaces that plugins hand the core.

Plugins implement these; the core depends only on them, never on a plugin.
Events and descriptions are frozen dataclasses with explicit fields.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import enum
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from core.analytics.tracker import Track
    from core.analytics.zones import Zone
    from core.events.types import Event

ROLES = ("viewer", "operator", "officer", "prosecutor", "supervisor", "admin")


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

    def __repr__(self) -> str:
        # credentials may also sit in the URL itself (rtsp://user:pass@host)
        return f"StreamSource(url={self.redacted_url()!r}, transport={self.transport!r})"

    def redacted_url(self) -> str:
        """The URL with any ``user:password@`` removed, fit for logs and API answers."""
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """``rtsp://u:p@host/x`` -> ``rtsp://host/x``; other strings unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


@dataclass(frozen=True)
class Preset:
    """A stored camera position; for a PTZ camera, one monitoring point.

    Analytics zones belong to a preset: the core knows at every moment which
    preset a camera is on (:mod:`core.ptz`).
    """

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
    snapshot: StreamSource | None = None  # a still-image URL (HTTP), credentials kept apart

    def public(self) -> dict[str, Any]:
        """The camera as API answers and the CLI show it: no URL, no credentials.

        The one public view of a camera's description; ``/api/cameras`` adds
        its status and stream (:func:`core.media.api.describe`), and a preset's
        names come from the PTZ API.
        """
        return {
            "id": self.id,
            "name": self.name,
            "agency": self.agency,
            "area": self.area,
            "driver": self.driver,
            "lat": self.lat,
            "lon": self.lon,
            "capabilities": sorted(c.value for c in self.capabilities),
            "presets": len(self.presets),
            "has_sub_stream": self.sub is not None,
        }


@runtime_checkable
class CameraDriver(Protocol):
    """A source of cameras: one per vendor or agency inventory.

    Optional extras the core uses when present: ``ptz(camera_id)``
    (:class:`PtzDriver`), ``tours()`` (:class:`TourDriver`),
    ``manual_control_timeout_s`` (seconds an operator's PTZ lock holds),
    ``async close()`` (release connections) and ``problems`` (a mapping of
    camera id to a one-line reason, for cameras it could not describe).
    ``docs/camera-drivers.md`` walks through writing one.
    """

    name: str

    async def cameras(self) -> list[CameraInfo]:
        """The cameras this driver offers, read once at start-up."""
        ...


@runtime_checkable
class PtzControl(Protocol):
    """The pan-tilt-zoom operations of one camera.

    Values are ONVIF's normalised ranges: ``pan`` and ``tilt`` in -1..1,
    ``zoom`` in 0..1 for positions and -1..1 for speeds. Every method raises
    on failure (any exception; its message should say why, without
    credentials); the core bounds each call with a timeout, reports a failure
    against the driver's plugin and keeps the camera streaming.
    """

    async def list_presets(self) -> list[Preset]: ...

    async def goto_preset(self, preset_id: str) -> None: ...

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move at the given speeds until :meth:`stop`."""
        ...

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None: ...

    async def zoom(self, level: float) -> None:
        """Zoom to ``level`` (0 wide .. 1 tele), keeping pan and tilt."""
        ...

    async def stop(self) -> None: ...


@runtime_checkable
class PtzDriver(Protocol):
    """A camera driver whose cameras (some or all) can be steered.

    Optional: a driver without ``ptz`` offers fixed cameras only.
    """

    name: str

    async def cameras(self) -> list[CameraInfo]: ...

    def ptz(self, camera_id: str) -> PtzControl | None:
        """The PTZ control of ``camera_id``, or ``None`` if it has none. No I/O."""
        ...


@dataclass(frozen=True)
class TourStop:
    preset_id: str
    dwell_s: float

    def __post_init__(self) -> None:
        if not self.dwell_s > 0:
            raise ValueError(f"tour stop {self.preset_id!r}: dwell_s must be > 0")


@dataclass(frozen=True)
class TourPlan:
    """A patrol tour: the presets a PTZ camera cycles through, each for its dwell."""

    camera_id: str
    stops: tuple[TourStop, ...]
    enabled: bool = True  # running from start-up; operators may switch it off

    def __post_init__(self) -> None:
        if not self.stops:
            raise ValueError(f"tour of {self.camera_id!r} has no stops")


@runtime_checkable
class TourDriver(Protocol):
    """A camera driver that proposes patrol tours for its PTZ cameras (optional)."""

    name: str

    def tours(self) -> list[TourPlan]:
        """Called once the cameras are known (after :meth:`CameraDriver.cameras`). No I/O."""
        ...


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture of a camera, as the frame hub hands it to analyzers.

    ``image`` is ``height x width x 3`` uint8 in **BGR** order (OpenCV's),
    read-only and shared by every analyzer of the camera: copy it before
    drawing on it. ``preset`` is the PTZ preset the camera is on, ``None``
    while it moves (or is off any preset, or is a fixed camera: see
    ``ptz``); ``view`` counts the camera's preset changes, so a tracker
    resets when it differs from the last frame's. ``motion`` is the share
    of the picture that changed since the hub's previous frame (0..1);
    ``detect`` says whether the frame is worth running a detector on (motion
    above the threshold, or a periodic forced frame so that stationary
    objects are still seen).
    """

    camera_id: str
    preset: str | None
    ptz: bool  # the camera can be steered (a fixed camera's preset is always None)
    view: int
    pts_s: float | None  # stream time, seconds
    wall: datetime.datetime  # UTC, when the frame's packet arrived
    width: int
    height: int
    image: Any = field(repr=False)  # numpy.ndarray, shape (height, width, 3), BGR, read-only
    motion: float = 1.0
    detect: bool = True
    forced: bool = False  # detect only because the forced interval elapsed
    seq: int = 0  # the hub's frame number for this camera

    @property
    def moving(self) -> bool:
        """A PTZ camera off any preset: analytics pause, trackers reset."""
        return self.ptz and self.preset is None


@dataclass(frozen=True)
class AnalyzerContext:
    """What an analyzer is told besides the frame.

    ``tracks``: the confirmed tracks of the frame's view after this frame
    (the core runs the deployment's detector and tracker once per camera
    frame, shared by its analyzers; empty for an analyzer with
    ``needs_tracks = False``, while a PTZ camera moves, or when no detector
    is enabled). ``zones``: the view's zones that apply at the frame's wall
    time (its preset's, or a fixed camera's). ``services``: what the plugin
    may use to publish events and cut clips (``None`` where there is none);
    they live on the server's event loop: an analyzer whose ``process`` runs
    elsewhere (a plain ``def``, or ``analytics_loop = True``) reaches them
    through :meth:`submit`.
    """

    camera: CameraInfo
    analyzer: str  # the analyzer's name
    plugin: str  # the plugin that registered it
    tracks: tuple[Track, ...] = ()
    zones: tuple[Zone, ...] = ()
    services: Any = field(default=None, repr=False)  # core.services.PluginServices (not imported: no cycle)
    server_loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any] | concurrent.futures.Future[Any]:
        """Run ``coro`` on the server's event loop, where ``services`` live, from any loop or thread.

        Returns its future: an ``asyncio.Task`` when called on that loop, else a
        ``concurrent.futures.Future`` (``asyncio.wrap_future`` awaits either).
        Without a server loop given (a test, ``bconnect analyze``): on the
        running loop.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self.server_loop or running
        if loop is None:
            coro.close()
            raise RuntimeError("ctx.submit: no server loop given and none running")
        if loop is running:
            return loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, loop)


@runtime_checkable
class Analyzer(Protocol):
    """Looks at a camera's frames (and, later, emits events).

    ``fps``: frames a second wanted (the hub decodes a camera at the highest
    rate any of its analyzers asks for; 5 is a good default); optionally
    ``fps_for(camera) -> float``, the rate for one camera (called once per
    camera at start-up, after ``wants``), where cameras need different rates.
    ``needs_tracks`` (optional, default ``True``): whether the analyzer reads
    ``ctx.tracks``; an analyzer that says ``False`` never makes the detector run.
    ``wants(camera)``: whether to analyse this camera (called once per camera
    at start-up; no I/O). ``process(frame, ctx)``: called with each frame, one
    at a time per camera; ``async def`` runs on the server's event loop and
    must not block it, a plain ``def`` runs in a worker thread of its own.
    ``analytics_loop`` (optional, default ``False``): ``True`` runs an ``async
    def process`` on the analytics loop instead, a thread of lower priority
    than live view: there it may await ``ctx.services.detector``, and hands
    everything else that touches ``services`` (events, clips, plates, the
    database) to the server's loop with ``ctx.submit(coro)``. A frame
    that arrives while the previous one is still being processed replaces
    any waiting one: slow analyzers drop frames, live view never waits.
    Raising is contained: logged with the name, counted, the plugin shown
    degraded; the next frame is processed as usual.
    ``docs/plugins.md`` has a worked example.
    """

    name: str
    fps: float

    def wants(self, camera: CameraInfo) -> bool: ...

    def process(self, frame: Frame, ctx: AnalyzerContext) -> Awaitable[None] | None: ...


@runtime_checkable
class Sink(Protocol):
    """Takes events (violations, incidents) elsewhere: a ticketing office, an export, a broker.

    The core's outbox calls :meth:`deliver` with each stored event
    (:class:`core.events.types.Event`), one at a time, in the order stored,
    at least once: after a crash or a failed attempt the same event may come
    again (its ``id`` tells). Return once the event is safely taken; raise
    (any exception, its message says why) to have it retried later with
    backoff. ``name`` is unique among sinks and keys the sink's delivery
    cursor in the database: renaming a sink starts it afresh.
    ``docs/plugins.md`` walks through writing one.
    """

    name: str

    async def deliver(self, event: Event) -> None: ...


EventSink = Sink  # the name used before the outbox existed


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


@dataclass(frozen=True)
class Command:
    """A ``bconnect`` subcommand a plugin adds (``bconnect_register_commands``).

    ``configure(parser)`` adds its arguments to an ``argparse`` parser that already
    has ``--config`` (the deployment file) and ``--data-dir``; ``run(args, cfg)`` gets
    the parsed arguments and the loaded deployment and returns the exit status.
    It runs outside any event loop (start one with ``asyncio.run`` if needed).
    """

    name: str
    help: str
    configure: Callable[[Any], None]
    run: Callable[[Any, Any], int]

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c == "-" for c in self.name) or not self.name[0].isalpha():
            raise ValueError(f"command name {self.name!r}: letters, digits and '-', starting with a letter")


@dataclass(frozen=True)
class Page:
    """A web page of a plugin, linked from the live view's top bar for the users who may open it
    (``bconnect_register_pages``). ``path`` is one of the plugin's own routes; ``visible(principal)``
    says whether a user (a :class:`core.auth.principal.Principal`) gets the link: the page itself must
    still check access, a link is not a permission."""

    path: str
    title: str
    visible: Callable[[Any], bool] = lambda principal: True

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("//") or any(c in self.path for c in "\"<> "):
            raise ValueError(f"page path {self.path!r}: an absolute path on this server, such as /api/<plugin>/page")
        if not 0 < len(self.title) <= 40:
            raise ValueError(f"page title {self.title!r}: 1 to 40 characters")
