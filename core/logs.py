"""Structured logs: JSON lines when stderr is not a terminal, readable text when it is.

A JSON line holds ``time``, ``level``, ``name`` and ``message`` plus whatever a
caller passed in ``extra`` (a contained plugin failure carries ``plugin`` and
``where``), so a log collector can filter by plugin without parsing text.
"""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter


def setup_logging(level: str | None = None, json_logs: bool | None = None) -> None:
    """Configure the root logger once per process (``bconnect serve`` calls it)."""
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    level = (level or os.environ.get("BCONNECT_LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        level = "INFO"
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "time"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
