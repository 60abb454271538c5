"""The plugin host: entry-point plugins, pending-hook checks and containment (STYLE.md rule 8).

Each test enables its plugins through its own deployment file and a fabricated
third-party distribution (``support.thirdparty``); the app is the real one,
run in-process with its lifespan (SQLite, scheduler, plugins).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from core.app import create_app
from core.config import ConfigErrors, load_file
from core.manifest import discover
from core.plugin_host import load_plugins
from support.appclient import bearer_headers, running
from support.thirdparty import thirdparty  # noqa: F401  (fixture)


ROOT = Path(__file__).resolve().parent.parent


def host_for(make_deployment, extra: str):
    cfg = load_file(make_deployment(extra).path)
    return cfg, load_plugins(cfg)


async def test_lifecycle_hooks_run_in_order_each_awaited_before_the_next():
    from core.hookspecs import hookimpl
    from core.plugin_host import PluginHost, new_plugin_manager

    seen = []

    class Slow:  # async, like the media core listing its cameras
        @hookimpl
        async def bconnect_startup(self, services):
            await asyncio.sleep(0.01)
            services["cameras"] = ["cam-1"]

    class Reader:  # sync: it must still find what Slow set up
        @hookimpl
        def bconnect_startup(self, services):
            seen.append(services.get("cameras"))

    host = PluginHost(new_plugin_manager())
    host.pm.register(Slow(), name="slow")
    host.pm.register(Reader(), name="reader")
    await host.acall("bconnect_startup", services={})
    assert seen == [["cam-1"]]


def test_entry_point_plugins_are_discovered_without_import(thirdparty):
    found = discover()
    assert found["tp_hello"].origin == "bconnect-test-plugins"
    assert found["tp_hello"].entry == "tp_hello:Hello"
    assert found["tp_hello"].manifest is None  # read from the class, once enabled
    assert "tp_hello" not in sys.modules and "tp_lazy" not in sys.modules
    assert found["parking_rule"].origin == "builtin"


def test_third_party_plugin_is_loaded_with_its_typed_config(make_deployment, thirdparty):
    cfg, host = host_for(make_deployment, '[plugins.tp_hello]\ngreeting = "halo"\n[plugins.tp_lazy]\nenabled = false\n')
    plugin = host.pm.get_plugin("tp_hello")
    assert plugin.config.greeting == "halo"
    assert host.states["tp_hello"].manifest.version == "0.1.0"
    assert host.enabled() == ["tp_hello"]
    assert "tp_lazy" not in sys.modules


def test_misspelt_hookimpl_is_a_config_error_naming_the_plugin(make_deployment, thirdparty):
    with pytest.raises(ConfigErrors) as info:
        host_for(make_deployment, "[plugins.tp_misspelt]\n")
    [err] = info.value.errors
    assert err.key == "plugins.tp_misspelt"
    assert "plugin 'tp_misspelt' implements unknown hook 'bconnect_register_route'" in err.reason


def test_hookimpl_with_an_unknown_argument_is_a_config_error(make_deployment, thirdparty):
    with pytest.raises(ConfigErrors) as info:
        host_for(make_deployment, "[plugins.tp_wrongargs]\n")
    [err] = info.value.errors
    assert err.key == "plugins.tp_wrongargs"
    assert "'regster'" in err.reason and "\n" not in str(err)


def test_manifest_provides_must_match_what_the_plugin_registered(make_deployment, thirdparty):
    """A manifest tells the truth: `provides` lists exactly the kinds the plugin registers."""
    d = make_deployment("[plugins.tp_claims]\n")
    with pytest.raises(ConfigErrors) as info:
        load_plugins(load_file(d.path))
    [err] = info.value.errors
    assert (err.key, err.reason) == (
        "plugins.tp_claims",
        "plugin 'tp_claims': its manifest says it provides 'analyzer', but it registered none (bconnect_register_analyzers)",
    )
    assert (err.file, err.line) == (str(d.path), d.path.read_text().splitlines().index("[plugins.tp_claims]") + 1)

    with pytest.raises(ConfigErrors) as info:
        host_for(make_deployment, "[plugins.tp_claims]\nanalyzers = 1\nsinks = 2\n")
    [err] = info.value.errors
    assert err.reason == "plugin 'tp_claims': it registered 2 through bconnect_register_sinks, but its manifest's provides lacks 'sink'"


def test_analyzers_and_sinks_are_collected_into_the_host(make_deployment, thirdparty):
    _, host = host_for(make_deployment, "[plugins.tp_claims]\nanalyzers = 2\n")
    assert [(plugin, a.kind, a.number) for plugin, a in host.analyzers] == [("tp_claims", "analyzer", 0), ("tp_claims", "analyzer", 1)]
    assert [(plugin, s.name) for plugin, s in host.sinks] == [("core.ViolationsPlugin", "violations")]  # the core's own


def test_shipped_manifests_tell_the_truth(make_deployment):
    """Every built-in plugin of the full deployment registers exactly what its manifest provides."""
    cfg = load_file(ROOT / "plugins.toml")
    host = load_plugins(cfg)  # raises ConfigErrors on an untrue manifest
    provides = {name: set(state.manifest.provides) for name, state in host.states.items() if state.manifest}
    assert provides["parking_rule"] == {"analyzer"}
    assert provides["crime_watch"] == {"analyzer"}
    assert provides["polri_etle"] == {"camera_driver", "routes", "models", "sink", "jobs"}


def test_shipped_plugins_serve_their_api_under_api_slash_their_name():
    """docs/plugins.md: a plugin's own API lives under /api/<plugin name>/ (or extends a camera's resource)."""
    seen = []
    for deployment in ("plugins.toml", "deploy/demo.toml"):
        host = load_plugins(load_file(ROOT / deployment))
        for plugin, route in host.registered["bconnect_register_routes"]:
            if host.states[plugin].manifest is not None:
                seen.append(route.path)
                assert route.path.startswith((f"/api/{plugin}/", "/api/cameras/{camera_id}/")), (plugin, route.path)
    assert "/api/polri_etle/units/{unit}/fix" in seen


def test_hook_wrappers_are_refused(make_deployment, thirdparty):
    with pytest.raises(ConfigErrors) as info:
        host_for(make_deployment, "[plugins.tp_wrapper]\n")
    [err] = info.value.errors
    assert (err.key, err.reason) == (
        "plugins.tp_wrapper", "plugin 'tp_wrapper': bconnect_health is a hook wrapper, which B-Connect does not call"
    )


async def _health(client, headers: dict[str, str]) -> dict:
    """The health an admin sees: plugin detail (anonymous callers get counts only)."""
    response = await client.get("/api/health", headers=headers)
    assert response.status_code == 200
    return response.json()


async def test_registration_hook_failure_is_contained(make_deployment, thirdparty, caplog):
    d = make_deployment("[plugins.tp_hello]\n[plugins.tp_faulty]\nfail_in = [\"routes\"]\n")
    app = create_app(load_file(d.path))
    services = app.state.services
    paths = {getattr(r, "path", None) for r in app.routes}
    # the failing plugin contributes nothing from that hook, the other plugin all of its routes
    assert "/api/tp_faulty/ping" not in paths and "/api/tp_hello/ping" in paths
    failure = [r for r in caplog.records if getattr(r, "plugin", None) == "tp_faulty"]
    assert failure and failure[0].levelno == logging.ERROR and failure[0].where == "bconnect_register_routes"

    async with running(app) as client:
        headers = await bearer_headers()
        body = await _health(client, headers)
        assert body["status"] == "degraded"
        assert body["plugins"]["tp_faulty"]["status"] == "degraded"
        assert body["plugins"]["tp_faulty"]["reason"] == "bconnect_register_routes: RuntimeError: tp_faulty broke in routes"
        assert body["plugins"]["tp_hello"]["status"] == "ok"
        # the other plugin's route works
        hello = await client.get("/api/tp_hello/ping", headers=headers)
        assert hello.status_code == 200 and hello.json()["greeting"] == "hello"
        assert (await client.get("/api/tp_faulty/ping", headers=headers)).status_code == 404
    text = services.metrics.render().decode()
    assert 'bconnect_plugin_errors_total{plugin="tp_faulty",where="bconnect_register_routes"} 1.0' in text


@pytest.mark.parametrize("place", ["startup", "startup_async"])
async def test_startup_failure_is_contained(make_deployment, thirdparty, place):
    d = make_deployment(f'[plugins.tp_hello]\n[plugins.tp_faulty]\nfail_in = ["{place}"]\n')
    app = create_app(load_file(d.path))
    hello = app.state.services.plugins.pm.get_plugin("tp_hello")
    async with running(app) as client:
        assert hello.started  # the other plugin's startup still ran
        body = await _health(client, await bearer_headers())
        assert body["plugins"]["tp_faulty"]["reason"] == f"bconnect_startup: RuntimeError: tp_faulty broke in {place}"
        assert body["plugins"]["tp_hello"]["status"] == "ok"
    text = app.state.services.metrics.render().decode()
    assert 'bconnect_plugin_errors_total{plugin="tp_faulty",where="bconnect_startup"} 1.0' in text


async def test_health_hook_failure_is_shown_in_that_answer(make_deployment, thirdparty):
    d = make_deployment('[plugins.tp_hello]\n[plugins.tp_faulty]\nfail_in = ["health"]\n')
    app = create_app(load_file(d.path))
    async with running(app) as client:
        headers = await bearer_headers()
        first = await _health(client, headers)
        assert first["status"] == "degraded"
        assert first["plugins"]["tp_faulty"] == {
            "status": "degraded",
            "errors": 1,
            "reason": "bconnect_health: RuntimeError: tp_faulty broke in health",
        }
        assert first["plugins"]["tp_hello"]["report"]["status"] == "ok"
        second = await _health(client, headers)
        assert second["plugins"]["tp_faulty"]["errors"] == 2
    text = app.state.services.metrics.render().decode()
    assert 'bconnect_plugin_errors_total{plugin="tp_faulty",where="bconnect_health"} 2.0' in text


async def test_shutdown_failure_does_not_stop_the_others(make_deployment, thirdparty):
    d = make_deployment('[plugins.tp_faulty]\nfail_in = ["shutdown"]\n')
    app = create_app(load_file(d.path))
    async with running(app) as client:
        assert (await _health(client, await bearer_headers()))["status"] == "ok"
    services = app.state.services
    assert services.plugins.states["tp_faulty"].last_where == "bconnect_shutdown"
    assert not services.scheduler.running  # the core went on stopping after the failure


async def test_healthy_deployment_reports_ok(make_deployment, thirdparty):
    d = make_deployment("[plugins.tp_hello]\n[plugins.parking_rule]\n")
    async with running(create_app(load_file(d.path))) as client:
        body = await _health(client, await bearer_headers())
    assert body["status"] == "ok"
    assert body["plugins"]["tp_hello"] == {"status": "ok", "errors": 0, "reason": None, "report": {"status": "ok", "runs": body["plugins"]["tp_hello"]["report"]["runs"]}}
    assert body["plugins"]["parking_rule"]["status"] == "ok"
