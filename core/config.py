"""The deployment file (``plugins.toml``): typed, validated, with precise errors.

Every mistake becomes a :class:`ConfigError` that names the file, the line and
the key path, with a one-line reason; never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.interfaces import AGENCIES
from core.toml_lines import find_line

Agency = Literal["dishub", "polri", "kejaksaan", "pemkot"]
assert set(Agency.__args__) == set(AGENCIES)  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentInfo(_Strict):
    name: str
    timezone: str = "Asia/Makassar"  # WITA, UTC+8


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    database_url: str | None = None  # default: SQLite under data_dir
    data_dir: str = "./data"
    secure_cookies: bool = True
    max_viewers_per_camera: int = Field(default=16, ge=1)
    max_viewers_total: int = Field(default=64, ge=1)


class Area(_Strict):
    name: str
    enabled: bool = False  # switched on: enforcement; off: education mode only


class AgencyAccess(_Strict):
    """Which cameras and which data the users of one agency see."""

    cameras: list[Agency] = []
    data: list[Agency] = []


class Deployment(_Strict):
    deployment: DeploymentInfo
    server: ServerSettings = ServerSettings()
    areas: dict[str, Area] = {}
    access: dict[Agency, AgencyAccess] = {}
    plugins: dict[str, dict[str, Any]] = {}

    def enabled_plugins(self) -> list[str]:
        return [name for name, table in self.plugins.items() if table.get("enabled", True) is not False]

    def plugin_config(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.plugins.get(name, {}).items() if k != "enabled"}

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


def error_at(path: Path, text: str, loc: Sequence[str | int], reason: str) -> ConfigError:
    key = ".".join(str(p) for p in loc)
    return ConfigError(str(path), find_line(text, loc), key, reason)


def pydantic_errors(path: Path, text: str, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[ConfigError]:
    out = []
    for err in exc.errors():
        loc = [*prefix, *err["loc"]]
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        elif err["type"] == "missing":
            reason = "missing value"
        out.append(error_at(path, text, loc, reason))
    return out


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
        raise ConfigErrors([_toml_error(p, exc)]) from None
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as exc:
        raise ConfigErrors(pydantic_errors(p, text, exc)) from None
    return LoadedConfig(p, text, deployment)


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
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
    return ConfigError(str(path), line, "", f"invalid TOML: {msg}")
