"""The deployment file (``plugins.toml``): typed, validated, with precise errors.

Every mistake becomes a :class:`ConfigError` that names the file, the line and
the key path, with a one-line reason; never a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from core.analytics.zone_kinds import parse_kind
from core.toml_lines import key_at_line, locate
from core.violations.settings import EnforcementSettings

DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "asyncpg")


def _known_area(value: str, info: ValidationInfo) -> str:
    areas = (info.context or {}).get("areas")
    if areas is not None and value not in areas:
        known = ", ".join(sorted(areas)) or "none"
        raise ValueError(f"unknown area {value!r} (areas of this deployment: {known})")
    return value


# A plugin config field that names a rollout area: checked against [areas.*]
AreaRef = Annotated[str, AfterValidator(_known_area)]

# An agency's id, as [agencies.<id>] declares it (stored in 16 characters)
AGENCY_ID_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"
AgencyId = Annotated[str, Field(pattern=AGENCY_ID_PATTERN)]


def _known_agency(value: str, info: ValidationInfo) -> str:
    agencies = (info.context or {}).get("agencies")
    if agencies is not None and value not in agencies:
        raise ValueError(unknown_agency(value, agencies))
    return value


def unknown_agency(value: str, agencies: Iterable[str]) -> str:
    """The one-line reason for an agency id the deployment does not declare."""
    known = ", ".join(sorted(agencies)) or "none"
    return f"unknown agency {value!r} (the deployment's [agencies] declare: {known})"


# A plugin config field that names an agency: checked against [agencies.*].
# A default is checked too when declared with Field(default=..., validate_default=True).
AgencyRef = Annotated[str, AfterValidator(_known_agency)]

# A camera's id, as drivers and inventories give it: it appears in URLs and logs
CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
CameraId = Annotated[str, Field(pattern=CAMERA_ID_PATTERN, max_length=64)]


def check_unique(values: Iterable[str], what: str = "camera id") -> None:
    """``ValueError("camera id repeated: a, b")`` if a value occurs more than once."""
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValueError(f"{what} repeated: {', '.join(repeated)}")


def _ip_network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. \"10.0.0.5\" or \"10.0.0.0/24\")") from None


# a reverse proxy's address or network, as [server] trusted_proxies lists them
ProxyNetwork = Annotated[str, AfterValidator(_ip_network)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentInfo(_Strict):
    name: str = Field(min_length=1)
    timezone: str = "UTC"  # a city's own, e.g. Asia/Makassar, is deployment data

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Makassar)") from None
        return value


class AuditSettings(_Strict):
    """``[audit]``: the hash-chained audit log (docs/audit.md)."""

    anchor_interval_s: float = Field(default=3600.0, ge=1, le=7 * 86400)  # how often the head is anchored


class RetentionSettings(_Strict):
    """``[retention]``: days evidence is kept before the purge job deletes it (never while held)."""

    clip_days: int = Field(default=365, ge=1, le=36500)
    snapshot_days: int = Field(default=365, ge=1, le=36500)
    purge_interval_s: float = Field(default=3600.0, ge=1, le=7 * 86400)  # how often expired evidence is purged


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    database_url: str | None = None  # default: SQLite under data_dir
    data_dir: str = "./data"
    secure_cookies: bool = True
    max_viewers_per_camera: int = Field(default=16, ge=1)
    max_viewers_total: int = Field(default=64, ge=1)
    # reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed; none by default
    trusted_proxies: list[ProxyNetwork] = []
    # the event loop's thread (live view) at Linux SCHED_RR 10 where permitted (core/loop_priority.py)
    realtime_loop: bool = True

    @field_validator("database_url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and ("://" not in value or value.split("://", 1)[0] not in DATABASE_SCHEMES):
            raise ValueError(f"database_url must start with one of {', '.join(s + '://' for s in DATABASE_SCHEMES)}")
        return value


class MediaSettings(_Strict):
    """``[media]``: how cameras are ingested. Defaults suit a city network of RTSP cameras."""

    ingest_processes: int = Field(default=0, ge=0, le=32)  # 0: ingest threads inside the server process
    open_timeout_s: float = Field(default=20.0, gt=0, le=300)  # connect, describe, first keyframe
    stall_timeout_s: float = Field(default=10.0, gt=0, le=300)  # no packet this long: the stream is lost
    backoff_base_s: float = Field(default=0.5, gt=0, le=60)  # first reconnect wait (full jitter)
    backoff_cap_s: float = Field(default=2.0, gt=0, le=3600)  # longest wait between real attempts
    probe_interval_s: float = Field(default=0.5, ge=0, le=60)  # TCP probe of a lost camera; 0: off
    offline_after_s: float = Field(default=20.0, ge=0, le=3600)  # reconnecting this long: offline
    preroll_s: float = Field(default=10.0, ge=1, le=120)  # video kept per camera for clips' pre-roll
    sub_stream_idle_s: float = Field(default=30.0, ge=1, le=3600)  # an unwatched sub stream is closed after this

    @field_validator("backoff_cap_s")
    @classmethod
    def _cap(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("backoff_base_s")
        if base is not None and value < base:
            raise ValueError(f"must not be less than backoff_base_s ({base:g})")
        return value


class EventSettings(_Strict):
    """Delivery of events to sinks, and the live stream to browsers."""

    sink_retry_base_s: float = Field(default=1.0, gt=0, le=60)  # first pause after a sink failed
    sink_retry_cap_s: float = Field(default=60.0, gt=0, le=3600)  # longest pause between attempts
    sink_timeout_s: float = Field(default=30.0, gt=0, le=600)  # one deliver() longer than this has failed
    live_queue: int = Field(default=64, ge=1, le=10_000)  # messages a live client may fall behind before it is dropped


class AnalyticsSettings(_Strict):
    """The deployment's analytics core."""

    detector: str | None = None  # which detector analyzers share, by plugin or detector name, when several are enabled
    zone_files: list[str] = []  # zone files imported at start for cameras without zones (relative to this file)
    # analysis threads: "nice" (+10: behind ingest and live view, still their share on a busy machine) or "idle"
    # (Linux SCHED_IDLE: only cores nothing else wants; for a server that does nothing but B-Connect)
    thread_policy: Literal["nice", "idle"] = "nice"
    # close-ups (core/analytics/closeups.py): zones of these kinds are also looked at enlarged, closeup_zoom times
    # the detector's own scale, in at most closeup_views squares a frame; what they find of closeup_labels joins
    # the frame's detections. [] switches them off
    closeup_kinds: list[str] = ["watched_area", "restricted_area"]
    closeup_zoom: float = Field(default=1.75, ge=1, le=4)
    closeup_views: int = Field(default=4, ge=1, le=16)
    closeup_labels: list[str] = ["person"]

    @field_validator("closeup_kinds")
    @classmethod
    def _closeup_kinds(cls, kinds: list[str]) -> list[str]:
        return [parse_kind(k).value for k in kinds]
    # while analyzers run: the interpreter's switch interval (ms), how long the event loop may wait for the GIL
    # behind an analysis thread's Python work (Python's own is 5 ms); 0 leaves Python's
    switch_interval_ms: float = Field(default=1.0, ge=0, le=100)
    # where the frame hub decodes and motion-gates the analysed cameras: "thread" (a thread per camera in the
    # server) or "process" (one frame worker process in a CPU group of its own, pictures back through shared
    # memory; restarted with backoff when it dies, the gap counted as dropped frames): docs/analytics.md
    decode: Literal["thread", "process"] = "thread"


class Area(_Strict):
    name: str
    enabled: bool = False  # switched on: enforcement; off: education mode only


class AgencyInfo(_Strict):
    """``[agencies.<id>]``: one agency of the deployment (its cameras, users and data carry the id)."""

    name: str = Field(min_length=1, max_length=64)  # shown to users


class AgencyAccess(_Strict):
    """Which cameras and which data the users of one agency see."""

    cameras: list[str] = []
    data: list[str] = []


class WebRtcSettings(_Strict):
    """``[webrtc]``: what one live-view (WHEP) viewer may ask of the server (docs/security.md)."""

    max_sessions_per_user: int = Field(default=16, ge=1, le=1024)  # one 16-tile grid; more for several screens
    connect_timeout_s: float = Field(default=8.0, gt=0, le=120)  # answered, but ICE/DTLS not up: the slot frees
    max_offer_bytes: int = Field(default=32 * 1024, ge=4096, le=256 * 1024)  # a browser's offer is 3-10 KB
    max_media_sections: int = Field(default=4, ge=1, le=16)  # m-lines: a viewer needs video (+ audio, data)
    max_candidates: int = Field(default=32, ge=1, le=256)  # a=candidate lines in an offer
    # The server sends ICE checks (STUN) to the addresses an offer's candidates name.
    # Empty: any unicast address; else only these networks (a viewer elsewhere still
    # connects through the checks its browser sends, as a peer-reflexive candidate).
    viewer_networks: list[str] = []

    @field_validator("viewer_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a network (e.g. 10.20.0.0/16 or 192.168.1.5)") from None
        return value


class Deployment(_Strict):
    deployment: DeploymentInfo
    server: ServerSettings = ServerSettings()
    media: MediaSettings = MediaSettings()
    events: EventSettings = EventSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    webrtc: WebRtcSettings = WebRtcSettings()
    areas: dict[str, Area] = {}
    agencies: dict[AgencyId, AgencyInfo] = {}
    access: dict[str, AgencyAccess] = {}
    enforcement: EnforcementSettings = EnforcementSettings()
    audit: AuditSettings = AuditSettings()
    retention: RetentionSettings = RetentionSettings()
    plugins: dict[str, dict[str, Any]] = {}

    def enabled_plugins(self) -> list[str]:
        return [name for name, table in self.plugins.items() if table.get("enabled", True) is not False]

    def plugin_config(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.plugins.get(name, {}).items() if k != "enabled"}

    def agency_name(self, agency: str) -> str:
        """The display name of ``agency``; its id when the deployment does not declare it."""
        info = self.agencies.get(agency)
        return info.name if info is not None else agency

    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()

    def database_url(self) -> str:
        if self.server.database_url:
            return self.server.database_url
        return f"sqlite://{(self.data_path() / 'bconnect.db').as_posix()}"


@dataclass(frozen=True)
class ConfigError(Exception):
    file: str
    line: int | None
    key: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" [{self.key}]" if self.key else ""
        return f"{where}:{key} {self.reason}"


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    text: str
    deployment: Deployment

    def error(self, loc: Sequence[str | int], reason: str) -> ConfigError:
        return error_at(self.path, self.text, loc, reason)


def key_path(loc: Sequence[str | int]) -> str:
    """``plugins.stream_url.cameras[1].url``: indices in brackets, keys dotted."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_at(path: Path, text: str, loc: Sequence[str | int], reason: str, *, absent: bool = False) -> ConfigError:
    """An error at the line of ``loc``; ``absent`` keys point at their table."""
    line, depth = locate(text, loc)
    if not absent and depth:
        # pydantic may append type tags (union members) that are not keys of the file
        loc = loc[:depth]
    return ConfigError(str(path), line or 1, key_path(loc), reason)


def pydantic_errors(path: Path, text: str, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[ConfigError]:
    out = []
    for err in exc.errors():
        loc = [*prefix, *err["loc"]]
        kind = err["type"]
        reason = err["msg"]
        if kind == "extra_forbidden":
            reason = "unknown key"
        elif kind == "missing":
            reason = "missing value"
        elif kind == "value_error":
            reason = reason.removeprefix("Value error, ")
        elif kind == "literal_error":
            reason = f"{_short(err.get('input'))} is not allowed: {reason[0].lower()}{reason[1:]}"
        elif kind.endswith(("_type", "_parsing")):
            reason = f"wrong type: {reason[0].lower()}{reason[1:]}, got {_short(err.get('input'))}"
        out.append(error_at(path, text, loc, reason, absent=kind == "missing"))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class ConfigErrors(Exception):
    """One or more configuration mistakes, each a :class:`ConfigError`."""

    def __init__(self, errors: list[ConfigError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def load_file(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and validate the core part of a deployment file.

    Plugin tables are validated later, by the plugin host, against each
    plugin's own config model.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigErrors([ConfigError(str(p), None, "", f"cannot read: {exc.strerror}")]) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([_toml_error(p, text, exc)]) from None
    # references to undeclared agencies are reported beside the other mistakes of the file
    errors = _agency_errors(p, text, data) + _ladder_area_errors(p, text, data)
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as exc:
        raise ConfigErrors(pydantic_errors(p, text, exc) + errors) from None
    if errors:
        raise ConfigErrors(errors)
    return LoadedConfig(p, text, deployment)


def _agency_errors(path: Path, text: str, data: dict[str, Any]) -> list[ConfigError]:
    """Each reference in ``[access]`` to an agency that ``[agencies]`` does not declare."""
    declared = data.get("agencies")
    known = set(declared) if isinstance(declared, dict) else set()
    access = data.get("access")
    errors = []
    for agency, rules in access.items() if isinstance(access, dict) else ():
        if agency not in known:
            reason = f"{agency!r} is not allowed: {unknown_agency(agency, known)}"
            errors.append(error_at(path, text, ("access", agency), reason))
            continue
        for kind in ("cameras", "data"):
            refs = rules.get(kind) if isinstance(rules, dict) else None
            for i, ref in enumerate(refs if isinstance(refs, list) else ()):
                if isinstance(ref, str) and ref not in known:
                    reason = f"{ref!r} is not allowed: {unknown_agency(ref, known)}"
                    errors.append(error_at(path, text, ("access", agency, kind, i), reason))
    return errors


def _ladder_area_errors(path: Path, text: str, data: dict[str, Any]) -> list[ConfigError]:
    """Each ``[enforcement.area_ladders.<area>]`` for an area that ``[areas]`` does not declare."""
    areas = data.get("areas") if isinstance(data.get("areas"), dict) else {}
    section = data.get("enforcement")
    ladders = section.get("area_ladders") if isinstance(section, dict) else None
    known = ", ".join(sorted(areas)) or "none"
    return [
        error_at(path, text, ("enforcement", "area_ladders", area), f"unknown area {area!r} (declared: {known})")
        for area in (ladders if isinstance(ladders, dict) else ())
        if area not in areas
    ]


def _toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    # tomllib ends its message with "(at line L, column C)"
    msg = str(exc)
    line = None
    if "(at line " in msg:
        head, _, tail = msg.rpartition("(at line ")
        try:
            line = int(tail.split(",")[0])
            msg = head.strip()
        except ValueError:
            pass
    elif "(at end of document)" in msg:
        msg = msg.replace("(at end of document)", "").strip() + " at the end of the file"
        line = max(len(text.splitlines()), 1)
    key = key_at_line(text, line) if line else ""
    return ConfigError(str(path), line, key, f"invalid TOML: {msg}")
