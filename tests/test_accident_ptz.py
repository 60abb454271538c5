"""The accident alert's PTZ offer accepted, and refused while an operator holds the camera; response time after an ack.

The real app with its real database and the core's real PTZ service; the PTZ
camera is the ONVIF device EMULATOR of tests/support/onvif_emulator.py (no
camera firmware can run here), reached through the real ONVIF driver. The alert
is the analyzer's own event (``event_of``) with the offer the plugin computes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from support.onvif_emulator import OnvifEmulator

from core.config import load_file
from core.testing.app import add_user, bearer_headers, running_app
from plugins.accident_watch.analyzer import event_of
from plugins.accident_watch.offer import offer
from plugins.accident_watch.rule import Accident, Party

PASSWORD = "ptz-emulator-pw"


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password=PASSWORD, stream_uri="rtsp://127.0.0.1:1/main", sub_stream_uri="rtsp://127.0.0.1:1/sub").start()
    yield emu
    emu.stop()


def accident() -> Accident:
    party = Party(3, "car", (10.0, 10.0, 50.0, 40.0), "abrupt_stop", 1.2)
    return Accident("cam-1", None, "lane", ("abrupt_stop",), (party,), 10.0, 12.0,
                    datetime.now(timezone.utc), 1, party.box)


async def test_the_offer_is_taken_refused_while_held_and_the_ack_is_timed(make_deployment, emulator):
    dep = make_deployment(f"""
        [plugins.onvif_camera]
        [[plugins.onvif_camera.devices]]
        id = "cam-1"
        name = "Emulated PTZ"
        host = "127.0.0.1"
        port = {emulator.port}
        username = "admin"
        password = "{PASSWORD}"
        agency = "dishub"
        area = "beruang_madu"
        timeout_s = 2

        [plugins.accident_watch]
        [[plugins.accident_watch.coverage]]
        camera = "cam-1"
        zones = ["lane"]
        ptz_camera = "cam-1"
        preset = "2"
        """)
    async with running_app(load_file(dep.path)) as (app, client):
        services = app.state.services
        plugin = services.plugins.pm.get_plugin("accident_watch")
        offered = offer(plugin.config, "cam-1", "lane", services.public())
        assert offered == [{"camera": "cam-1", "preset": "2", "preset_name": "Simpang selatan", "held_by": None, "distance_m": None}]
        assert offer(plugin.config, "cam-1", "elsewhere", services.public()) == []  # a zone no preset covers
        stored = await services.events.publish(event_of(accident(), plugin.config, offered, None, None))
        assert stored.priority == "high" and stored.detail["live_view"]["whep"] == "/api/cameras/cam-1/whep"

        ani = await bearer_headers(await add_user("ani", role="operator", agency="dishub"))
        budi = await bearer_headers(await add_user("budi", role="operator", agency="dishub"))
        vera = await bearer_headers(await add_user("vera", role="viewer", agency="dishub"))
        url = f"/api/accident_watch/alerts/{stored.id}/ptz"

        r = await client.post(url, headers=ani, json={"camera": "cam-1"})
        assert r.status_code == 200, r.text
        assert r.json()["active_preset"] == "2" and r.json()["held_by"] == "ani"
        assert emulator.position == [-0.4, -0.1, 0.2]  # preset 2's position: the camera moved

        # budi is refused while ani holds the camera, with the reason
        r = await client.post(url, headers=budi, json={"camera": "cam-1"})
        assert r.status_code == 409 and "under manual control by ani" in r.json()["error"], r.text
        # bad input: a clear 4xx with the reason
        for who, body, status, reason in [
            (vera, {"camera": "cam-1"}, 403, "role"),
            (ani, {"camera": "cam-9"}, 404, "is not in the offer"),
            (ani, {"cam": "cam-1"}, 400, "cam: unknown key"),
            (ani, [1], 400, "body: expected a JSON object"),
        ]:
            r = await client.post(url, headers=who, json=body)
            assert r.status_code == status and reason in r.json()["error"], r.text
        r = await client.post("/api/accident_watch/alerts/0123456789abcdef/ptz", headers=ani, json={"camera": "cam-1"})
        assert r.status_code == 404

        # response time: alert -> acknowledgement, in the API figure and on /metrics
        assert (await client.get("/api/accident_watch/response", headers=vera)).json()["acknowledged"] == 0
        r = await client.post(f"/api/events/{stored.id}/ack", headers=ani, json={"note": "ambulance called"})
        assert r.status_code == 200, r.text
        waited = r.json()["ack"]["response_s"]
        for _ in range(100):
            figures = (await client.get("/api/accident_watch/response", headers=vera)).json()
            if figures["acknowledged"]:
                break
            await asyncio.sleep(0.02)
        assert figures["acknowledged"] == 1 and figures["median_s"] == pytest.approx(waited, abs=0.01)
        metrics = services.metrics.render().decode()
        assert 'bconnect_event_response_seconds_count{kind="accident.suspected"} 1.0' in metrics
