"""Collecting the sinks plugins register (``bconnect_register_sinks``).

Collected when the events core starts (so a plugin registered after the host
was built, as tests do, is heard); each one's shape and name is checked before
the outbox delivers to it.
"""

from __future__ import annotations

import inspect
import re

from core.interfaces import Sink
from core.plugin_host import PluginHost

SINK_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def collect_sinks(host: PluginHost) -> list[tuple[str, Sink]]:
    """``(plugin, sink)`` pairs; a malformed or repeated sink is reported against its plugin and left out."""
    out: list[tuple[str, Sink]] = []
    names: dict[str, str] = {}
    for plugin, sink in host.collect("bconnect_register_sinks"):
        problem = _problem(sink)
        if problem is None and sink.name in names:
            problem = f"sink name {sink.name!r} already registered by {names[sink.name]}"
        if problem is not None:
            host.report_failure(plugin, "bconnect_register_sinks", TypeError(problem))
            continue
        names[sink.name] = plugin
        out.append((plugin, sink))
    return out


def _problem(sink: object) -> str | None:
    if not isinstance(sink, Sink):
        return f"not a sink (needs name and async deliver(event)): {sink!r}"[:300]
    if not isinstance(sink.name, str) or not SINK_NAME.match(sink.name):
        return f"sink name {sink.name!r}: lower case letters, digits, _ or -, at most 64"
    if not inspect.iscoroutinefunction(sink.deliver):
        return f"sink {sink.name!r}: deliver must be an async method"
    return None
