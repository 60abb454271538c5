"""Camera inventories shipped as data, and where their streams come from.

An agency plugin ships its fleet as a TOML file (ids, names, areas,
positions, presets) and never a URL or a credential: those belong to the
deployment, given as a URL template plus per-camera overrides. This module
reads such a file with line-precise errors and renders the stream sources.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.config import pydantic_errors
from core.interfaces import StreamSource

M = TypeVar("M", bound=BaseModel)


class InventoryError(ValueError):
    """The inventory file is broken; the message names file, line and key."""


def load_inventory(path: Path, model: type[M]) -> M:
    """Read and validate an inventory file against ``model``."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InventoryError(f"{path}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InventoryError("; ".join(str(e) for e in pydantic_errors(path, text, exc))) from None


class StreamOverride(BaseModel):
    """Per-camera exceptions to the deployment's stream template."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    sub_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None


class StreamSettings(BaseModel):
    """Where a fleet's streams are: part of an agency plugin's deployment config.

    Templates are ``str.format`` strings over the fields the plugin documents
    (e.g. ``rtsp://cam-{area_number}-{number}.example.invalid:554/Streaming/Channels/101``).
    """

    model_config = ConfigDict(extra="forbid")

    url_template: str = Field(min_length=1)
    sub_url_template: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    transport: Literal["tcp", "udp"] = "tcp"

    def check_templates(self, fields: Mapping[str, object]) -> None:
        """Raise ``ValueError`` naming a template that uses an unknown field."""
        for key in ("url_template", "sub_url_template"):
            template = getattr(self, key)
            if template is None:
                continue
            for _, name, _, _ in string.Formatter().parse(template):
                if name is not None and name.split(".")[0].split("[")[0] not in fields:
                    known = ", ".join(sorted(fields))
                    raise ValueError(f"{key}: unknown field {{{name}}} (known: {known})")
            try:
                template.format(**fields)
            except (ValueError, IndexError, KeyError) as exc:
                raise ValueError(f"{key}: {exc}") from None

    def sources(
        self, fields: Mapping[str, object], override: StreamOverride | None = None
    ) -> tuple[StreamSource, StreamSource | None]:
        """The main and sub stream of one camera."""
        o = override or StreamOverride()
        user = o.username if o.username is not None else self.username
        secret = o.password if o.password is not None else self.password
        password = secret.get_secret_value() if secret is not None else None
        main_url = o.url or self.url_template.format(**fields)
        sub_url = o.sub_url or (self.sub_url_template.format(**fields) if self.sub_url_template else None)
        main = StreamSource(main_url, self.transport, user, password)
        sub = StreamSource(sub_url, self.transport, user, password) if sub_url else None
        return main, sub
