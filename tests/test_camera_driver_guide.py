"""The example driver of docs/camera-drivers.md works, and the guide shows the shipped code.

PelitaCam is a fictitious vendor; its camera is played by the EMULATOR of
tests/support/pelita_emulator.py, a stand-in for firmware that cannot run here
(a standard-library HTTP server answering the vendor's JSON API with basic auth).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from support.appclient import running
from support.pelita_emulator import PelitaEmulator

from core.app import create_app
from core.clock import FakeClock
from core.config import load_file
from core.hookspecs import hookimpl
from core.interfaces import Capability, PtzControl, PtzDriver
from core.plugin_host import load_plugins
from core.ptz.service import PtzService
from core.testing.net import free_port

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "camera-drivers.md"
PLUGIN = ROOT / "plugins" / "example_vendor"
PASSWORD = "pelita-pass"


@pytest.fixture
def pelita():
    emu = PelitaEmulator("admin", PASSWORD, presets=((1, "Utara"), (2, "Selatan"), (3, "Halte")))
    yield emu
    emu.stop()


def deployment_with(make_deployment, host: str, password: str = PASSWORD, area: str = "beruang_madu"):
    return make_deployment(
        f"""
        [plugins.example_vendor]
        timeout_s = 2

        [[plugins.example_vendor.cameras]]
        id = "pelita-01"
        name = "Jl. Sudirman / Klandasan"
        host = "{host}"
        username = "admin"
        password = "{password}"
        area = "{area}"
        """
    )


def driver_of(host):
    (plugin, driver), = [(p, d) for p, d in host.collect("bconnect_register_camera_drivers") if p == "example_vendor"]
    return driver


async def test_example_driver_lists_and_steers_a_camera(pelita, make_deployment, caplog):
    caplog.set_level(logging.DEBUG)
    host = load_plugins(load_file(deployment_with(make_deployment, pelita.host).path))
    driver = driver_of(host)
    assert isinstance(driver, PtzDriver)
    (cam,) = await driver.cameras()
    assert [p.name for p in cam.presets] == ["Utara", "Selatan", "Halte"]
    assert cam.main.url == "rtsp://127.0.0.1:554/live/main" and cam.main.password == PASSWORD
    assert cam.snapshot.url == f"http://{pelita.host}/snapshot.jpg"
    assert cam.capabilities == {Capability.PTZ, Capability.PRESETS, Capability.ZOOM, Capability.SNAPSHOT}
    assert PASSWORD not in repr(cam) and PASSWORD not in repr(driver.config) and PASSWORD not in json.dumps(cam.public())

    control = driver.ptz("pelita-01")
    assert isinstance(control, PtzControl) and driver.ptz("nope") is None
    await control.continuous_move(0.5, 0, 0)
    await control.stop()
    await control.absolute_move(0.1, -0.2, 0.3)
    await control.zoom(0.9)
    assert pelita.commands == [
        {"action": "move", "pan": 0.5, "tilt": 0, "zoom": 0},
        {"action": "stop"},
        {"action": "absolute", "pan": 0.1, "tilt": -0.2, "zoom": 0.3},
        {"action": "zoom", "level": 0.9},
    ]

    # through the core: the PTZ service routes, knows the active preset, holds the lock
    ptz = PtzService(host, FakeClock())
    await ptz.load_drivers(host.collect("bconnect_register_camera_drivers"))
    await ptz.goto_preset("pelita-01", "2", by="ani")
    assert pelita.commands[-1] == {"action": "preset", "preset": 2}
    assert ptz.active("pelita-01").preset_id == "2" and ptz.lock("pelita-01").owner == "ani"
    assert PASSWORD not in caplog.text


async def test_wrong_password_and_unreachable_host_are_clear_and_quick(pelita, make_deployment):
    host = load_plugins(load_file(deployment_with(make_deployment, pelita.host, password="wrong").path))
    driver = driver_of(host)
    (cam,) = await driver.cameras()  # still listed, without presets
    assert cam.presets == ()
    with pytest.raises(Exception, match="401"):
        await driver.ptz("pelita-01").stop()

    closed = free_port()
    host = load_plugins(load_file(deployment_with(make_deployment, f"127.0.0.1:{closed}").path))
    driver = driver_of(host)
    started = time.monotonic()
    with pytest.raises(OSError, match="refused"):
        await driver.ptz("pelita-01").goto_preset("1")
    assert time.monotonic() - started < 2


def test_unknown_area_is_refused_by_check_config(make_deployment):
    from core.config import ConfigErrors

    with pytest.raises(ConfigErrors, match="area 'nowhere' is not declared"):
        load_plugins(load_file(deployment_with(make_deployment, "127.0.0.1:1", area="nowhere").path))


def test_guide_shows_the_shipped_driver():
    guide = GUIDE.read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", guide, flags=re.S)
    assert ("python", (PLUGIN / "plugin.py").read_text()) in blocks
    assert ("toml", (PLUGIN / "plugin.toml").read_text()) in blocks
    code_lines = [line for line in (PLUGIN / "plugin.py").read_text().splitlines() if line.strip()]
    assert len(code_lines) < 100  # the promise: a vendor driver in well under 100 lines


class ClosingDriver:
    """A driver that records its ``close()`` calls (and raises there when told to)."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.closed = 0

    async def cameras(self):
        return []

    async def close(self) -> None:
        self.closed += 1
        if self.fail:
            raise RuntimeError(f"{self.name} broke while closing")

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)


async def test_the_core_closes_each_driver_once_on_shutdown_and_contains_a_failing_close(make_deployment):
    """What the guide promises: ``close()`` is the core's call, once, on app shutdown; a raising one is reported."""
    app = create_app(load_file(make_deployment().path))
    host = app.state.services.plugins
    quiet, broken = ClosingDriver("quiet"), ClosingDriver("broken", fail=True)
    host.pm.register(broken, name="closing_broken")  # first: its failure must not keep the other open
    host.pm.register(quiet, name="closing_quiet")
    async with running(app):
        assert (quiet.closed, broken.closed) == (0, 0)
    assert (quiet.closed, broken.closed) == (1, 1)
    state = host.states["closing_broken"]
    assert state.last_where == "close" and state.last_error == "RuntimeError: broken broke while closing"
    assert "closing_quiet" not in host.states or host.states["closing_quiet"].errors == 0
    assert "the core calls it once on" in " ".join(GUIDE.read_text().split())
