"""Rollout areas at start-up: a camera in an area the deployment does not declare is reported, and stays viewable.

The stray driver below skips the constructor check that docs/camera-drivers.md
asks for, so that the core's own check at start-up is what catches it. Its
camera points at a closed port on 127.0.0.1: it simply shows offline.
"""

from __future__ import annotations

from core.testing.app import add_user, bearer_headers, running_app
from core.config import load_file
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, StreamSource
from core.plugin_host import load_plugins
from core.testing.net import free_port


class StrayDriver:
    name = "stray"

    def __init__(self, port: int) -> None:
        self.port = port

    async def cameras(self) -> list[CameraInfo]:
        main = StreamSource(f"rtsp://127.0.0.1:{self.port}/x")
        return [
            CameraInfo("lost", "Lost", "pemkot", self.name, main, area="klandasan"),
            CameraInfo("home", "Home", "pemkot", self.name, main, area="beller"),
        ]

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        register(self)


async def test_camera_in_an_undeclared_area_is_reported_at_startup_and_stays_viewable(make_deployment):
    cfg = load_file(make_deployment().path)  # declares beruang_madu and beller
    host = load_plugins(cfg)
    host.pm.register(StrayDriver(free_port()), name="stray")
    async with running_app(cfg, host=host) as (app, client):
        headers = await bearer_headers(await add_user("boss"))
        health = (await client.get("/api/health", headers=headers)).json()
        cameras = (await client.get("/api/cameras", headers=headers)).json()
    stray = health["plugins"]["stray"]
    assert stray["status"] == "degraded" and stray["errors"] == 1
    assert stray["reason"] == (
        "cameras: ValueError: camera 'lost': area 'klandasan' is not declared in [areas] (declared: beller, beruang_madu)"
    )
    listed = {c["id"]: c for c in cameras}
    assert set(listed) == {"lost", "home"}
    assert listed["lost"]["mode"] == "education"


class OtherCityDriver(StrayDriver):
    """Its camera names an agency the deployment does not declare (a driver without AgencyRef)."""

    name = "other_city"

    async def cameras(self) -> list[CameraInfo]:
        return [CameraInfo("bpbd-1", "BPBD 1", "bpbd", self.name, StreamSource(f"rtsp://127.0.0.1:{self.port}/x"))]


async def test_camera_of_an_undeclared_agency_is_reported_at_startup(make_deployment):
    cfg = load_file(make_deployment().path)  # declares dishub, polri, kejaksaan, pemkot
    host = load_plugins(cfg)
    host.pm.register(OtherCityDriver(free_port()), name="other_city")
    async with running_app(cfg, host=host) as (app, client):
        headers = await bearer_headers(await add_user("boss"))
        health = (await client.get("/api/health", headers=headers)).json()
        cameras = (await client.get("/api/cameras", headers=headers)).json()
    assert health["plugins"]["other_city"]["reason"] == (
        "cameras: ValueError: camera 'bpbd-1': unknown agency 'bpbd' (the deployment's [agencies] declare: "
        "dishub, kejaksaan, pemkot, polri)"
    )
    assert [c["id"] for c in cameras] == []  # an admin sees the declared agencies' cameras
