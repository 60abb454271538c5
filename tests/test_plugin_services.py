"""What a deployment plugin gets from the core: PluginServices, read-only protocols, no internals.

A real app (the stream_url driver, the media and PTZ cores) with one probe plugin that keeps
what its hooks were handed.
"""

from __future__ import annotations

import dataclasses

import pytest
from support.appclient import bearer_headers, running

from core.app import create_app
from core.config import load_file
from core.hookspecs import hookimpl
from core.media.clips import ClipError
from core.plugin_host import PluginState, load_plugins
from core.services import CameraDirectory, EvidenceStore, PluginServices, PtzArbiter, Services


class Probe:
    def __init__(self) -> None:
        self.startup = None
        self.health = None

    @hookimpl
    def bconnect_startup(self, services):
        self.startup = services

    @hookimpl
    def bconnect_health(self, services):
        self.health = services
        return {"status": "ok"}


@pytest.fixture
def app_and_probe(make_deployment):
    cfg = load_file(make_deployment(
        """
        [[plugins.stream_url.cameras]]
        id = "cam-x"
        name = "Nowhere"
        url = "rtsp://127.0.0.1:1/none"
        agency = "dishub"
        area = "beruang_madu"
        """
    ).path)
    host = load_plugins(cfg)
    probe = Probe()
    host.pm.register(probe, name="probe")
    host.states["probe"] = PluginState("probe", None)  # a deployment plugin, as the loader records one
    return create_app(cfg, host=host), probe


async def test_a_deployment_plugin_gets_the_read_only_view(app_and_probe):
    app, probe = app_and_probe
    async with running(app) as client:
        seen = probe.startup
        assert isinstance(seen, PluginServices) and not isinstance(seen, Services)
        for internal in ("plugins", "scheduler", "metrics", "config_path"):
            assert not hasattr(seen, internal), internal
        assert isinstance(seen.cameras, CameraDirectory)
        assert isinstance(seen.ptz, PtzArbiter) and not hasattr(seen.ptz, "add_camera")
        assert isinstance(seen.clips, EvidenceStore)
        with pytest.raises(dataclasses.FrozenInstanceError):
            seen.cameras = None  # type: ignore[misc]

        assert seen.cameras.ids() == ["cam-x"]
        assert seen.cameras.info("cam-x").agency == "dishub" and seen.cameras.plugin_of("cam-x") == "stream_url"
        assert seen.cameras.info("nope") is None and seen.cameras.plugin_of("nope") is None
        assert seen.ptz.camera_ids() == [] and seen.ptz.preset_of("cam-x") is None
        with pytest.raises(ClipError):  # the camera is unreachable: no video to cut
            await seen.clips.cut("cam-x", pre_s=1, post_s=0)

        r = await client.get("/api/health", headers=await bearer_headers())
        assert r.status_code == 200 and r.json()["plugins"]["probe"]["status"] == "ok"
        assert probe.health is seen  # every hook hands the same view

        # the core's own plugins still get the core's services
        assert app.state.services.cameras is not None and len(app.state.services.cameras) == 1
