"""Every hook and each of its arguments is documented; so is every key of the deployment file.

Walks the plugin manager's hook specifications (not a hand-kept list), so a new
hook or a new argument fails here until docs/plugins.md explains it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.config import Deployment
from core.plugin_host import new_plugin_manager
from core.services import (
    CameraDirectory,
    EventChannel,
    EvidenceStore,
    PluginServices,
    PtzArbiter,
    ViolationDesk,
    ZoneDirectory,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def sections(text: str, level: str) -> dict[str, str]:
    """Heading text -> the body under it, up to the next heading of the same or higher level."""
    pattern = re.compile(rf"^{level} (.+)$", re.M)
    marks = list(pattern.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        nxt = re.search(rf"^#{{1,{len(level) - 1}}} ", text[m.end() : end], re.M)
        out[m.group(1).strip()] = text[m.end() : m.end() + nxt.start()] if nxt else text[m.end() : end]
    return out


def hookspecs() -> dict[str, list[str]]:
    pm = new_plugin_manager()
    specs = {}
    for name in vars(pm.hook):
        caller = getattr(pm.hook, name)
        if not name.startswith("_") and caller.spec is not None:
            specs[name] = list(caller.spec.argnames)
    return specs


HOOKS = hookspecs()
PLUGIN_DOCS = sections((DOCS / "plugins.md").read_text(), "###")


def test_there_are_hooks():
    assert "bconnect_register_routes" in HOOKS and "bconnect_health" in HOOKS


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_is_documented_with_each_argument(hook):
    assert f"`{hook}`" in PLUGIN_DOCS, f"docs/plugins.md has no '### `{hook}`' heading"
    body = PLUGIN_DOCS[f"`{hook}`"]
    for arg in HOOKS[hook]:
        assert f"- `{arg}`:" in body, f"argument {arg!r} of {hook} is not documented under its heading"
    assert "Returns:" in body, f"{hook}: say what it returns"


def test_no_hook_documented_that_does_not_exist():
    documented = {h.strip("`") for h in PLUGIN_DOCS if h.startswith("`bconnect_")}
    assert documented <= set(HOOKS), f"documented but not in core.hookspecs: {documented - set(HOOKS)}"


def test_plugin_guide_covers_the_rules():
    text = (DOCS / "plugins.md").read_text()
    for topic in ("plugin.toml", "extra=\"forbid\"", "must not do I/O", "firstresult", "bconnect.plugins",
                  "bconnect_plugin_errors_total", "bconnect makemigrations", "ModelSet"):
        assert topic in text, topic


def _keys(model: type[BaseModel], table: str) -> list[tuple[str, str]]:
    """(table heading, key) for every field, descending into sub-tables."""
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _keys(annotation, f"[{table.strip('[]')}.{name}]" if table else f"[{name}]")
            continue
        args = getattr(annotation, "__args__", ())
        if table == "" and getattr(annotation, "__origin__", None) is dict:
            value = args[1]
            sub = {
                "areas": "[areas.<id>]", "agencies": "[agencies.<id>]", "access": "[access.<agency>]", "plugins": "[plugins.<name>]"
            }[name]
            if isinstance(value, type) and issubclass(value, BaseModel):
                out += _keys(value, sub)
            else:
                out.append((sub, "enabled"))
            continue
        out.append((table, name))
    return out


@pytest.mark.parametrize("table,key", _keys(Deployment, ""))
def test_every_deployment_key_is_documented(table, key):
    docs = sections((DOCS / "configuration.md").read_text(), "##")
    assert f"`{table}`" in docs, f"docs/configuration.md has no '## `{table}`' section"
    assert f"| `{key}` |" in docs[f"`{table}`"], f"{table} {key} is not in its table of keys"


def test_what_plugins_get_is_documented():
    """Each field of PluginServices and each method of its protocols, walked from the code."""
    guide = sections((DOCS / "plugins.md").read_text(), "##")["What the core gives a plugin"]
    for f in dataclasses.fields(PluginServices):
        assert f"| `{f.name}` |" in guide, f"PluginServices.{f.name} is not in the table"
    for protocol in (CameraDirectory, PtzArbiter, EvidenceStore, ZoneDirectory, EventChannel, ViolationDesk):
        assert f"`{protocol.__name__}`" in guide, protocol.__name__
        for name, member in vars(protocol).items():
            if callable(member) and not name.startswith("_"):
                params = list(inspect.signature(member).parameters)[1:]
                assert f"`{name}(" in guide, f"{protocol.__name__}.{name} is not documented"
                for param in params:
                    assert param in guide, f"{protocol.__name__}.{name}: argument {param!r} not documented"
