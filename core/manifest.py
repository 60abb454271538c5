"""Plugin manifests: what a plugin is, read before any of its code is imported.

Built-in plugins live in ``plugins/<name>/`` with a ``plugin.toml``. Third-party
plugins arrive through the entry-point group ``bconnect.plugins``; the entry
point's name is the plugin's name and its value the plugin class. Their
manifest is the class attribute ``manifest`` (a dict), read only once the
plugin is enabled, since reading it means importing it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.config import AGENCY_ID_PATTERN

ENTRY_POINT_GROUP = "bconnect.plugins"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "plugins"

Provides = Literal["camera_driver", "analyzer", "sink", "routes", "jobs", "models", "detector", "plate_validator", "commands", "plate_reader", "pages"]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str
    description: str
    # the agency whose cameras the plugin serves: the deployment must declare it in [agencies]
    agency: str | None = Field(default=None, pattern=AGENCY_ID_PATTERN)
    provides: list[Provides] = []
    requires: list[str] = []
    # a stand-in for tests (e.g. a detector replaying ground truth): never suggested to an operator
    test_only: bool = False
    # built-in plugins: "package.module:Class"; an entry point names it for third-party ones
    entry: str | None = Field(default=None, pattern=r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class Available:
    """A plugin that could be enabled: its manifest (if known without import)."""

    name: str
    entry: str
    origin: str  # "builtin" or the distribution name
    manifest: Manifest | None
    manifest_path: Path | None


class ManifestError(Exception):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_manifest(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(path, str(exc)) from None
    try:
        manifest = Manifest.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError
        raise ManifestError(path, str(exc).splitlines()[0]) from None
    if manifest.entry is None:
        raise ManifestError(path, "entry: missing value (e.g. entry = \"plugins.x.plugin:X\")")
    if manifest.name != path.parent.name:
        raise ManifestError(path, f"name {manifest.name!r} differs from folder {path.parent.name!r}")
    return manifest


def discover(builtin_dir: Path = BUILTIN_DIR) -> dict[str, Available]:
    """Every plugin that could be enabled; imports nothing."""
    found: dict[str, Available] = {}
    for path in sorted(builtin_dir.glob("*/plugin.toml")):
        manifest = read_manifest(path)
        found[manifest.name] = Available(manifest.name, manifest.entry or "", "builtin", manifest, path)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue  # a built-in plugin wins over a same-named distribution
        dist = ep.dist.name if ep.dist else "unknown distribution"
        found[ep.name] = Available(ep.name, ep.value, dist, None, None)
    return found
