"""``bconnect makemigrations``: write new migration files for changed models.

A developer command: it runs tortoise's migration autodetector over the core's
models and every enabled plugin's :class:`~core.interfaces.ModelSet`, against
the migration files already on disk (no database is touched).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from tortoise.cli.cli import CLIContext
from tortoise.cli.cli import makemigrations as tortoise_makemigrations
from tortoise.cli.utils import CLIError

from core.plugin_host import PluginHost
from core.storage import StorageError, model_sets, tortoise_config


def make_migrations(host: PluginHost, app: str | None = None, name: str | None = None, empty: bool = False) -> None:
    """Write the migrations of ``app`` (default: every app); raise :class:`StorageError`."""
    sets = model_sets(host)
    labels = [ms.app for ms in sets]
    if app is not None and app not in labels:
        raise StorageError(f"unknown app {app!r} (apps of this deployment: {', '.join(labels)})")
    for ms in sets:
        if not ms.migrations:
            raise StorageError(f"app {ms.app!r} has no migrations package; set ModelSet.migrations")
    # tortoise reads its config from a file; the models need no real database
    config = tortoise_config("sqlite://:memory:", sets)
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "tortoise.json"
        config_file.write_text(json.dumps(config))
        try:
            asyncio.run(
                tortoise_makemigrations(CLIContext(None, str(config_file)), (app,) if app else (), empty, name)
            )
        except CLIError as exc:
            raise StorageError(f"makemigrations: {exc}") from None
