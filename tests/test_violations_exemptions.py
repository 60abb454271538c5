"""No exemptions: no setting, column or code path can spare a plate or a vehicle from a violation.

The mayor's rule (``../shared/DOMAIN.md``): not even officials' cars. Proved four ways: the configuration
models hold no list that names plates or vehicles and refuse unknown keys; check-config refuses every
spelling of an exemption list; the code and the schema have no such name; an official's plate flows
through the workflow like any other.
"""

from __future__ import annotations

import importlib
import io
import re
import tokenize
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from support.events import RecordingSink, SinksPlugin, event, wait_until
from support.violations import DEPLOYMENT, headers

from core.config import ConfigErrors, Deployment, load_file
from core.manifest import discover
from core.plugin_host import PROVIDES_HOOKS, load_plugins
from core.testing.app import running_app
from core.violations.models import PlateEdit, Violation, ViolationTransition

ROOT = Path(__file__).resolve().parent.parent
SUSPECT = re.compile(r"exempt|exception_list|whitelist|allowlist|blacklist|vip|skip_plate|ignore_plate|immun", re.I)
NAMES_VEHICLES = re.compile(r"plate|vehicle|nopol|tnkb|official|pejabat", re.I)


def models_under(model: type[BaseModel], path: str = "") -> typing.Iterator[tuple[str, type[BaseModel]]]:
    yield path or model.__name__, model
    for name, field in model.model_fields.items():
        for inner in _models_in(field.annotation):
            yield from models_under(inner, f"{path}.{name}" if path else name)


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _is_collection(annotation: typing.Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, set, tuple, frozenset, dict):
        return True
    return any(_is_collection(arg) for arg in typing.get_args(annotation))


def plugin_config_models() -> list[tuple[str, type[BaseModel]]]:
    out = []
    for name, available in discover().items():
        module, _, cls = available.entry.partition(":")
        config = getattr(importlib.import_module(module), cls).__dict__.get("Config")
        if isinstance(config, type) and issubclass(config, BaseModel):
            out.append((f"plugins.{name}", config))
    return out


def test_no_configuration_model_has_a_list_of_plates_or_vehicles_and_all_refuse_unknown_keys():
    walked = list(models_under(Deployment)) + [m for root, c in plugin_config_models() for m in models_under(c, root)]
    assert any(p == "enforcement" for p, _ in walked) and any(p.startswith("plugins.parking_rule") for p, _ in walked)
    for path, model in walked:
        assert model.model_config.get("extra") == "forbid", f"{path}: {model.__name__} accepts unknown keys"
        for name, field in model.model_fields.items():
            assert not SUSPECT.search(name), f"{path}.{name}: looks like an exemption"
            if _is_collection(field.annotation):
                assert not NAMES_VEHICLES.search(name), f"{path}.{name}: a collection that names plates or vehicles"


EXEMPTIONS = [
    ("[enforcement]\nexempt_plates = [\"KT1A\"]\n", "enforcement.exempt_plates"),
    ("[enforcement.ladder]\nsteps = [{ name = \"teguran\", after = 0 }]\nexempt = [\"RI1\"]\n", "enforcement.ladder.exempt"),
    ("[enforcement.laws.\"parking.violation\"]\nlaw = \"UU\"\npasal = \"287\"\nmax_fine = 1\nexempt_vehicle_classes = [\"government\"]\n",
     "enforcement.laws.parking.violation.exempt_vehicle_classes"),
    ("[exemptions]\nplates = [\"RI1\"]\n", "exemptions"),
    ("[areas.wika]\nname = \"Wika\"\nexempt_plates = [\"KT1A\"]\n", "areas.wika.exempt_plates"),
    ("[plugins.parking_rule]\nexempt_plates = [\"KT1A\"]\n", "plugins.parking_rule.exempt_plates"),
    ("[plugins.parking_rule]\nwhitelist = [\"KT1A\"]\n", "plugins.parking_rule.whitelist"),
]


@pytest.mark.parametrize("table,key", EXEMPTIONS, ids=[k for _, k in EXEMPTIONS])
def test_check_config_refuses_an_exemption_list_naming_file_line_and_key(make_deployment, table, key):
    d = make_deployment(table)
    # an unknown key is named at its line; an unknown table at its heading
    last = table.splitlines()[0 if key == "exemptions" else -1]
    line = d.path.read_text().splitlines().index(last) + 1
    with pytest.raises(ConfigErrors) as caught:
        load_plugins(load_file(d.path))
    messages = [str(e) for e in caught.value.errors]
    assert any(m == f"{d.path}:{line}: [{key}] unknown key" for m in messages), messages


def test_the_command_refuses_it_too(make_deployment, bconnect_cli):
    d = make_deployment("[enforcement]\nexempt_plates = [\"RI1\"]\n")
    proc = bconnect_cli("check-config", str(d.path))
    assert proc.returncode != 0
    assert "[enforcement.exempt_plates] unknown key" in proc.stderr + proc.stdout


def _names(path: Path) -> typing.Iterator[str]:
    """The identifiers and string literals of a Python file; comments and docstrings are prose, not switches."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME:
            yield tok.string
        elif tok.type == tokenize.STRING and i and tokens[i - 1].type not in (tokenize.INDENT, tokenize.NEWLINE, tokenize.NL):
            yield tok.string


def test_no_code_schema_or_deployment_file_names_an_exemption():
    found = []
    for folder in ("core", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found += [f"{path.relative_to(ROOT)}: {n[:60]}" for n in _names(path) if SUSPECT.search(n)]
    for path in [ROOT / "plugins.toml", *sorted((ROOT / "deploy").glob("*.toml"))]:
        found += [f"{path.relative_to(ROOT)}: {line}" for line in path.read_text().splitlines()
                  if SUSPECT.search(line.split("#", 1)[0])]
    assert not found, found
    for model in (Violation, ViolationTransition, PlateEdit):
        assert not [f for f in model._meta.fields_map if SUSPECT.search(f)], model


@pytest.fixture
def bconnect_cli():
    from core.testing.pytest_plugin import bconnect

    return bconnect


async def test_an_officials_plate_is_reviewed_escalated_and_handed_over_like_any_other(make_deployment):
    # with Balikpapan's plate reader on, as plugins.toml has it: its TNKB rules know no "RI" area (the
    # governor's plate is no regional TNKB), so that plate waits for an officer to confirm it, like any
    # doubtful plate; then it goes the same way as every other
    cfg = load_file(make_deployment(DEPLOYMENT + "\n[plugins.plate_reader]\n").path)
    sink = RecordingSink("ticketing")
    host = load_plugins(cfg)
    host.pm.register(SinksPlugin(sink), name="test_sinks")
    host.registered = {hook: host.collect(hook) for hook in PROVIDES_HOOKS.values()}
    async with running_app(cfg, host=host) as (app, client):
        bus = app.state.services.events
        h = await headers("pof", "officer", "pemkot")
        states = []
        for n, plate in enumerate(["RI 1", "KT 1 A", "RI 1", "RI 1"]):  # the governor's, the mayor's, ...
            e = await bus.publish(event("dcam", n=n, detail={"plate": plate, "plate_confidence": 0.99, "class": "car",
                                                             "plate_colour": "red", "owner": "Pemerintah Kota"}))
            await wait_until(lambda: any(x.kind == "parking.violation" and x.id == e.id for x in sink.got), what="event")
            for _ in range(100):
                v = await Violation.get_or_none(event_id=e.id)
                if v is not None:
                    break
                await _sleep()
            assert v is not None and v.state == "awaiting_review"
            shown = (await client.get(f"/api/violations/{v.id}", headers=h)).json()
            if shown["plate"]["blocker"] is not None:  # the officer looks at the picture and confirms the plate
                assert plate.startswith("RI"), shown["plate"]
                r = await client.patch(f"/api/violations/{v.id}/plate", json={"plate": plate}, headers=h)
                assert r.status_code == 200, r.text
            for path in ("verify", "action"):
                r = await client.post(f"/api/violations/{v.id}/{path}", json={}, headers=h)
                assert r.status_code == 200, r.text
            states.append((r.json()["plate"]["text"], r.json()["state"], r.json()["ladder_step"]))
        assert states == [("RI1", "handed_to_sink", "teguran"), ("KT1A", "handed_to_sink", "teguran"),
                          ("RI1", "handed_to_sink", "stiker"), ("RI1", "handed_to_sink", "kempes_ban")]
        await wait_until(lambda: len([x for x in sink.got if x.kind == "violation.verified"]) == 4, what="handed over")


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)
