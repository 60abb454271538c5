"""The conformance kit for camera drivers: one standard suite, any driver.

A plugin author describes their driver in a :class:`DriverCase` (how to build
it for a reachable camera, for wrong credentials and for an unreachable host,
and what to expect) and runs the suite either as tests, one per check::

    from core.testing.conformance import DriverCase, DriverConformance, load_driver

    class TestMyDriver(DriverConformance):
        @pytest.fixture
        def driver_case(self, rtsp_camera):
            return DriverCase(name="my_vendor", driver=lambda: load_driver("my_vendor", TABLE), ...)

or all at once with :func:`run_conformance` (sync) or :func:`check_driver`
(async). The checks (:mod:`core.testing.conformance_checks`) use the core's
own code: the camera registry opens the main stream through the real ingest,
the snapshot cache decodes its keyframe, the PTZ service sends the commands.

Loaded by the ``pytest11`` entry point (through :mod:`core.testing.pytest_plugin`),
so the fixtures below need no import: ``rtsp_camera``, a real RTSP server
(GStreamer) that asks for :data:`CAMERA_USER` / :data:`CAMERA_PASSWORD` like
a camera does, and ``closed_port``, a port on 127.0.0.1 where nothing listens.
``docs/camera-drivers.md`` walks through it.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import load_file
from core.plugin_host import load_plugins
from core.testing.conformance_case import DriverCase, Expect
from core.testing.conformance_checks import CHECKS, ConformanceError, NotApplicable, run_check
from core.testing.deployment import deployment_toml
from core.testing.net import free_port
from core.testing.rtsp import DEFAULT_MOUNTS, RtspServer

__all__ = [
    "CAMERA_PASSWORD",
    "CAMERA_USER",
    "CHECKS",
    "UNREACHABLE_HOST",
    "AuthRtspServer",
    "ConformanceError",
    "DriverCase",
    "DriverConformance",
    "Expect",
    "NotApplicable",
    "check_driver",
    "free_port",
    "load_driver",
    "run_conformance",
]

CAMERA_USER = "camera"
CAMERA_PASSWORD = "conformance-secret-7"
UNREACHABLE_HOST = "camera.invalid"  # RFC 6761: a name that never resolves


async def check_driver(case: DriverCase, checks: Sequence[str] = tuple(CHECKS)) -> dict[str, str]:
    """Run ``checks`` on the case; ``{check: "passed" | "not applicable: why"}``.

    Raises :class:`ConformanceError` naming every check that failed.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; the checks are {', '.join(CHECKS)}")
    results: dict[str, str] = {}
    failures: list[str] = []
    for name in checks:
        try:
            await run_check(name, case)
        except NotApplicable as exc:
            results[name] = f"not applicable: {exc}"
        except ConformanceError as exc:
            results[name] = f"failed: {exc}"
            failures.append(f"{name}: {exc}")
        else:
            results[name] = "passed"
    if failures:
        raise ConformanceError(f"driver case {case.name!r} fails {len(failures)} check(s):\n  " + "\n  ".join(failures))
    return results


def run_conformance(case: DriverCase, checks: Sequence[str] = tuple(CHECKS)) -> dict[str, str]:
    """:func:`check_driver` from synchronous code (a plain test); in ``async`` code await that instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(check_driver(case, checks))
    raise RuntimeError("run_conformance() inside a running event loop: use `await check_driver(case)`")


def _run_one(name: str, case: DriverCase) -> None:
    async def one() -> None:
        await run_check(name, case)

    try:
        asyncio.run(one())
    except NotApplicable as exc:
        pytest.skip(f"{case.name}: {name} does not apply: {exc}")


class DriverConformance:
    """The suite as tests: subclass it as ``Test...`` and give a ``driver_case`` fixture.

    Each check is one test, so a report names what fails. The tests are plain
    functions that run their own event loop, so they work with or without
    pytest-asyncio.
    """

    def test_describe(self, driver_case: DriverCase) -> None:
        _run_one("describe", driver_case)

    def test_stream(self, driver_case: DriverCase) -> None:
        _run_one("stream", driver_case)

    def test_snapshot(self, driver_case: DriverCase) -> None:
        _run_one("snapshot", driver_case)

    def test_ptz(self, driver_case: DriverCase) -> None:
        _run_one("ptz", driver_case)

    def test_presets(self, driver_case: DriverCase) -> None:
        _run_one("presets", driver_case)

    def test_zoom(self, driver_case: DriverCase) -> None:
        _run_one("zoom", driver_case)

    def test_wrong_credentials(self, driver_case: DriverCase) -> None:
        _run_one("wrong_credentials", driver_case)

    def test_unreachable(self, driver_case: DriverCase) -> None:
        _run_one("unreachable", driver_case)


# --- building drivers ------------------------------------------------------------------


def load_driver(plugin: str, table: str, *, data_dir: str | Path | None = None, tables: str = "") -> Any:
    """``plugin``'s camera driver, built by the real plugin host from a deployment file.

    ``table`` is the plugin's part of the file, headers included
    (``[plugins.my_vendor]``, ``[[plugins.my_vendor.cameras]]``); ``tables``
    the rest of the deployment the cameras refer to: its ``[areas.<id>]`` and
    ``[agencies.<id>]``. ``data_dir`` is the deployment's (a temporary folder
    by default). The config is validated as ``bconnect check-config`` would:
    a mistake raises :class:`core.config.ConfigErrors` naming the line in
    ``table`` and the key.
    """
    with tempfile.TemporaryDirectory(prefix="bconnect-conformance-") as tmp:
        data = Path(data_dir) if data_dir is not None else Path(tmp) / "data"
        path = Path(tmp) / "deployment.toml"
        # the table first, so that an error's line number is the line in ``table``
        path.write_text(f"{textwrap.dedent(table)}\n\n{deployment_toml(data, name='conformance', tables=tables)}")
        host = load_plugins(load_file(path))
    drivers = [d for p, d in host.collect("bconnect_register_camera_drivers") if p == plugin]
    if len(drivers) != 1:
        raise ValueError(f"plugin {plugin!r} registered {len(drivers)} camera drivers; the kit takes exactly one")
    return drivers[0]


@dataclass
class AuthRtspServer(RtspServer):
    """:class:`core.testing.rtsp.RtspServer` asking every client for a username and password."""

    auth: tuple[str, str] | None = (CAMERA_USER, CAMERA_PASSWORD)

    def command(self) -> list[str]:
        cmd = super().command()
        return cmd + ["--auth", f"{self.auth[0]}:{self.auth[1]}"] if self.auth else cmd


# --- fixtures (registered through the pytest11 entry point) ------------------------------


@pytest.fixture(scope="module")
def rtsp_camera() -> Iterator[AuthRtspServer]:
    """A real RTSP camera: GStreamer's RTSP server with :data:`DEFAULT_MOUNTS`, asking for
    :data:`CAMERA_USER` / :data:`CAMERA_PASSWORD`. One per test module."""
    server = AuthRtspServer(mounts=dict(DEFAULT_MOUNTS)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: an unreachable camera that answers at once."""
    return free_port()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: the camera driver conformance kit (core.testing.conformance)")
