"""Dishub's ATCS fleet: inventory, stream config, tours and PTZ over ONVIF.

PTZ cameras cannot run here: the Dishub camera's PTZ side is played by the
ONVIF device EMULATOR of tests/support/onvif_emulator.py; streams come from
the real GStreamer RTSP server (core.testing.rtsp).
"""

from __future__ import annotations

import json
import logging
import tomllib
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from support.api_users import make_tokens
from support.onvif_emulator import EmulatedPreset, OnvifEmulator
from support.waiting import poll

from core.areas import check_camera_areas, enforcement_mode
from core.clock import FakeClock
from core.config import ConfigErrors, Deployment, load_file
from core.interfaces import Capability
from core.plugin_host import PluginContext, load_plugins
from core.ptz.service import PtzService
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)
from plugins.dishub_cameras.inventory import INVENTORY, read_inventory
from plugins.dishub_cameras.plugin import Config, DishubCameras
from plugins.patrol_tours.runner import TourRunner

def driver(config: dict, areas=("beruang_madu", "beller", "balikpapan_baru", "wika")) -> DishubCameras:
    deployment = Deployment.model_validate({"deployment": {"name": "t"}, "areas": {a: {"name": a} for a in areas}})
    return DishubCameras(Config.model_validate(config), PluginContext("dishub_cameras", deployment, Path("."), logging.getLogger("t")))


def test_inventory_has_37_cameras_167_presets_in_4_areas():
    inv = read_inventory()
    assert inv.placeholder is True
    assert len(inv.cameras) == 37
    assert sum(len(c.presets) for c in inv.cameras) == 167
    assert Counter(c.area for c in inv.cameras) == {"beruang_madu": 11, "beller": 9, "balikpapan_baru": 9, "wika": 8}
    assert all(c.name.startswith("Placeholder ") for c in inv.cameras)  # clearly marked
    # around Jl. MT Haryono, Balikpapan
    assert all(-1.30 < c.lat < -1.20 and 116.80 < c.lon < 116.90 for c in inv.cameras)
    text = INVENTORY.read_text()
    assert "PLACEHOLDER" in text
    assert not any(word in text.lower() for word in ("rtsp://", "http://", "password", "username"))


async def test_streams_come_from_the_deployment_template_and_overrides():
    d = driver({
        "url_template": "rtsp://atcs-{area_number}-{number}.dishub.invalid:554/ch1",
        "sub_url_template": "rtsp://atcs-{area_number}-{number}.dishub.invalid:554/ch2",
        "username": "atcs", "password": "s3cret-atcs",
        "cameras": {"atcs-wk-08": {"url": "rtsp://atcs-wk-08.dishub.invalid/live", "password": "other-secret"}},
    })
    cams = {c.id: c for c in await d.cameras()}
    assert len(cams) == 37 and sum(len(c.presets) for c in cams.values()) == 167
    first = cams["atcs-bm-01"]
    assert first.main.url == "rtsp://atcs-1-1.dishub.invalid:554/ch1" and first.sub.url == "rtsp://atcs-1-1.dishub.invalid:554/ch2"
    assert cams["atcs-bl-01"].main.url == "rtsp://atcs-2-12.dishub.invalid:554/ch1"
    assert (first.main.username, first.main.password) == ("atcs", "s3cret-atcs")
    assert cams["atcs-wk-08"].main.url == "rtsp://atcs-wk-08.dishub.invalid/live" and cams["atcs-wk-08"].main.password == "other-secret"
    assert all(c.capabilities == {Capability.PTZ, Capability.PRESETS, Capability.ZOOM} for c in cams.values())
    assert all(c.agency == "dishub" and c.driver == "dishub_cameras" for c in cams.values())
    for secret in ("s3cret-atcs", "other-secret"):
        assert secret not in repr(list(cams.values())) and secret not in json.dumps([c.public() for c in cams.values()])
        assert secret not in repr(d.config)


async def test_areas_option_and_load_time_checks():
    d = driver({"url_template": "rtsp://x/{id}", "areas": ["wika"]}, areas=("wika",))
    assert {c.area for c in await d.cameras()} == {"wika"} and len(await d.cameras()) == 8
    with pytest.raises(ValueError, match="area 'balikpapan_baru' is not declared"):
        driver({"url_template": "rtsp://x/{id}"}, areas=("beruang_madu", "beller", "wika"))
    with pytest.raises(ValueError, match=r"url_template: unknown field \{camera\} \(known: area, area_number, id, index, number\)"):
        driver({"url_template": "rtsp://x/{camera}"})
    with pytest.raises(ValueError, match="unknown camera id"):
        driver({"url_template": "rtsp://x/{id}", "cameras": {"atcs-zz-99": {"tour": False}}})
    with pytest.raises(ValueError, match="unknown area"):
        driver({"url_template": "rtsp://x/{id}", "areas": ["klandasan"]})


async def test_rollout_areas_decide_enforcement_or_education():
    deployment = Deployment.model_validate({
        "deployment": {"name": "t"},
        "areas": {"beruang_madu": {"name": "BM", "enabled": True}, "beller": {"name": "Beller"}},
    })
    assert enforcement_mode(deployment, "beruang_madu") == "enforcement"
    assert enforcement_mode(deployment, "beller") == "education"  # declared, not switched on yet
    assert enforcement_mode(deployment, None) == "education"
    assert enforcement_mode(deployment, "wika") == "education"
    cams = await driver({"url_template": "rtsp://x/{id}"}).cameras()
    problems = check_camera_areas(deployment, cams)
    assert len(problems) == 17  # balikpapan_baru and wika are not declared here
    assert problems[0] == "camera 'atcs-bb-01' (dishub_cameras): area 'balikpapan_baru' is not declared in [areas] (declared: beller, beruang_madu)"


def test_check_config_names_the_file_and_the_plugin(make_deployment):
    # the test deployment declares only beruang_madu and beller
    dep = make_deployment('[plugins.dishub_cameras]\nurl_template = "rtsp://x/{id}"\n')
    with pytest.raises(ConfigErrors) as err:
        load_plugins(load_file(dep.path))
    (e,) = err.value.errors
    assert e.file == str(dep.path) and e.key == "plugins.dishub_cameras" and e.line is not None
    assert "'balikpapan_baru' is not declared" in e.reason
    dep = make_deployment('[plugins.dishub_cameras]\n')
    with pytest.raises(ConfigErrors, match=r"plugins\.dishub_cameras\.url_template\] missing value"):
        load_plugins(load_file(dep.path))


def test_tours_cycle_every_camera_through_its_presets():
    d = driver({
        "url_template": "rtsp://x/{id}", "tour_dwell_s": 15,
        "cameras": {"atcs-bm-02": {"tour": False}, "atcs-bm-03": {"tour_dwell_s": 40}},
    })
    plans = {p.camera_id: p for p in d.tours()}
    assert len(plans) == 36 and "atcs-bm-02" not in plans
    assert sum(len(p.stops) for p in plans.values()) == 167 - 5
    assert {s.dwell_s for s in plans["atcs-bm-01"].stops} == {15}
    assert {s.dwell_s for s in plans["atcs-bm-03"].stops} == {40}
    assert driver({"url_template": "rtsp://x/{id}", "ptz": "none"}).tours() == []


@pytest.fixture
def emulator():
    emu = OnvifEmulator(
        username="atcs", password="s3cret-atcs",
        presets=[EmulatedPreset(str(i), f"P{i}", pan=i / 10) for i in range(1, 6)],
    ).start()
    yield emu
    emu.stop()


async def test_tour_drives_the_camera_over_onvif_and_a_failure_is_reported(emulator):
    clock = FakeClock()
    d = driver({
        "url_template": "rtsp://127.0.0.1:1/{id}", "username": "atcs", "password": "s3cret-atcs",
        "tour_dwell_s": 10, "areas": ["beruang_madu"], "onvif_timeout_s": 2,
        "cameras": {"atcs-bm-01": {"onvif_host": "127.0.0.1", "onvif_port": emulator.port}},
    }, areas=("beruang_madu",))
    ptz = PtzService(None, clock)
    await ptz.load_drivers([("dishub_cameras", d)])
    assert len(ptz.camera_ids()) == 11
    tours = TourRunner(ptz, clock)
    for plan in d.tours():
        if plan.camera_id == "atcs-bm-01":
            tours.add("dishub_cameras", plan)
    seen = []
    for _ in range(3):
        await tours.tick()
        seen.append((ptz.active("atcs-bm-01").preset_id, emulator.position[0]))
        clock.advance(10)
    assert seen == [("1", 0.1), ("2", 0.2), ("3", 0.3)]
    assert [op for op in emulator.ops() if op == "GotoPreset"] == ["GotoPreset"] * 3

    emulator.fail["GotoPreset"] = "PTZ motor fault"
    await tours.tick()
    state = ptz.state("atcs-bm-01")
    assert state["active_preset"] is None and "PTZ motor fault" in state["last_error"]["reason"]
    await d.close()


def live_deployment(make_deployment, rtsp_url: str, onvif_port: int, tour_dwell_s: float = 1) -> object:
    inventory = tomllib.loads(INVENTORY.read_text())
    others = [c["id"] for c in inventory["cameras"] if c["area"] == "beruang_madu" and c["id"] != "atcs-bm-01"]
    overrides = "".join(f'\n[plugins.dishub_cameras.cameras.{cid}]\ntour = false\n' for cid in others)
    return make_deployment(
        f"""
        [plugins.patrol_tours]

        [plugins.dishub_cameras]
        url_template = "rtsp://127.0.0.1:1/{{id}}"
        username = "atcs"
        password = "s3cret-atcs"
        areas = ["beruang_madu"]
        tour_dwell_s = {tour_dwell_s}
        onvif_timeout_s = 2

        [plugins.dishub_cameras.cameras.atcs-bm-01]
        url = "{rtsp_url}"
        onvif_host = "127.0.0.1"
        onvif_port = {onvif_port}
        """ + overrides
    )


def health(server, token: str) -> dict:
    """What an admin sees: camera and plugin detail (an anonymous caller gets counts only)."""
    request = urllib.request.Request(server.url + "/api/health", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.load(r)


@pytest.mark.rtsp
def test_failing_ptz_is_reported_and_the_camera_keeps_streaming(make_deployment, start_server, rtsp_server, emulator):
    emulator.fail["GotoPreset"] = "PTZ motor fault"
    dep = live_deployment(make_deployment, rtsp_server.url("h264"), emulator.port)
    token = make_tokens(dep.path, [("adm", "admin", "pemkot")])["adm"]
    server = start_server(dep)
    online = poll(lambda: health(server, token)["cameras"]["atcs-bm-01"]["state"] == "online")
    assert online, health(server, token)["cameras"]["atcs-bm-01"]
    # the patrol tour (plugin patrol_tours) runs on the core scheduler and fails at the camera
    assert poll(lambda: emulator.ops().count("GotoPreset") >= 1, 10)
    body = poll(lambda: (h := health(server, token))["plugins"]["dishub_cameras"]["status"] == "degraded" and h)
    plugin = body["plugins"]["dishub_cameras"]
    assert "atcs-bm-01" in plugin["reason"] and "PTZ motor fault" in plugin["reason"]
    # ... while its stream keeps flowing
    first = body["cameras"]["atcs-bm-01"]["last_packet_at"]
    later = poll(lambda: (c := health(server, token)["cameras"]["atcs-bm-01"])["last_packet_at"] > first + 0.5 and c)
    assert later and later["state"] == "online"
    assert "s3cret-atcs" not in json.dumps(body) and "s3cret-atcs" not in server.log()
