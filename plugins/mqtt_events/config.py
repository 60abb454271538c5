"""The MQTT sink's settings, and reading the broker password from where the deployment keeps it.

The password itself is never a key of the deployment file (which is shared and
checked into configuration repositories): the file names an environment
variable or a file that holds it. It is read at start-up, kept as a
``SecretStr`` and never logged or shown in health.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

TOPIC_PART = r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,63}$"  # no wildcards (+ #), no leading slash


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False  # port 8883 by convention
    tls_ca_file: str | None = None  # PEM bundle of the broker's CA (relative to the data folder); default: the system's
    tls_insecure: bool = False  # skip the host name check (a broker reached by an address its certificate lacks)
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    password_file: str | None = None
    client_id: str = Field(default="bconnect", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    topic_prefix: str = Field(default="bconnect", pattern=TOPIC_PART)
    personal_data: bool = False  # plates, officers' names in violation messages
    kinds: list[str] = []  # event kinds to publish; empty: every kind
    outbox_file: str = "mqtt_events/outbox.sqlite3"  # relative to the deployment's data folder
    outbox_max_messages: int = Field(default=100_000, ge=1)
    outbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=65536)  # a message (at most ~20 KiB) always fits
    status_interval_s: float = Field(default=2.0, gt=0, le=300)  # how often camera status is looked at
    reconnect_max_s: float = Field(default=30.0, gt=0, le=600)  # the pause between attempts doubles up to this
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    @model_validator(mode="after")
    def _one_password_source(self) -> Config:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        if (self.tls_ca_file or self.tls_insecure) and not self.tls:
            raise ValueError("tls_ca_file and tls_insecure need tls = true")
        return self


def read_password(config: Config, data_dir: Path) -> SecretStr | None:
    """The broker password from the environment or its file; ``ValueError`` naming the source (never the value)."""
    if config.password_env:
        value = os.environ.get(config.password_env)
        if not value:
            raise ValueError(f"password_env: the environment variable {config.password_env} is not set")
        return SecretStr(value)
    if config.password_file:
        path = data_dir / config.password_file  # an absolute path stays itself
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"password_file {path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        if not value:
            raise ValueError(f"password_file {path}: empty")
        return SecretStr(value)
    return None
