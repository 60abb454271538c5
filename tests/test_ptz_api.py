"""The PTZ HTTP API on a real server, with real accounts and tokens.

The PTZ camera is the ONVIF device EMULATOR of tests/support/onvif_emulator.py
(no camera firmware can run here), reached through the real ONVIF driver.
"""

from __future__ import annotations

import time

import httpx
import pytest
from support.api_users import make_tokens
from support.onvif_emulator import EmulatedPreset, OnvifEmulator
from support.waiting import poll

PASSWORD = "ptz-emulator-pw"
CAM = "/api/cameras/cam-1/ptz"


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password=PASSWORD, stream_uri="rtsp://127.0.0.1:1/main", sub_stream_uri="rtsp://127.0.0.1:1/sub").start()
    yield emu
    emu.stop()


def deployment(make_deployment, port: int, tour_dwell_s: float | None = None, manual_s: float = 120):
    tour = f"tour_dwell_s = {tour_dwell_s}" if tour_dwell_s else ""
    return make_deployment(
        f"""
        [plugins.onvif_camera]
        manual_control_timeout_s = {manual_s}

        [[plugins.onvif_camera.devices]]
        id = "cam-1"
        name = "Emulated PTZ"
        host = "127.0.0.1"
        port = {port}
        username = "admin"
        password = "{PASSWORD}"
        agency = "dishub"
        area = "beruang_madu"
        timeout_s = 2
        {tour}

        [plugins.patrol_tours]
        """
    )


USERS = [
    ("ani", "operator", "dishub"),
    ("budi", "operator", "dishub"),
    ("vera", "viewer", "dishub"),
    ("polo", "officer", "polri"),
    ("adm", "admin", "pemkot"),
]


class Client:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        self.tokens = tokens
        self.bodies: list[str] = []

    def __call__(self, method: str, path: str, user: str | None = None, body=None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        r = self.http.request(method, path, headers=headers, json=body if raw is None else None, content=raw)
        self.bodies.append(r.text)
        return r


def test_ptz_api_access_commands_errors_and_lock(make_deployment, start_server, emulator):
    dep = deployment(make_deployment, emulator.port)
    tokens = make_tokens(dep.path, USERS)
    server = start_server(dep)
    api = Client(server.url, tokens)

    # authentication and access
    assert api("GET", CAM).status_code == 401
    r = api("GET", CAM, "vera")
    assert r.status_code == 200, r.text
    state = r.json()
    assert [p["id"] for p in state["presets"]] == ["1", "2", "3"]
    assert state["active_preset"] is None and state["manual_control"] is None and state["tour"] is None
    r = api("POST", CAM + "/preset", "vera", {"preset": "2"})
    assert r.status_code == 403 and "role" in r.json()["error"]
    assert api("GET", CAM, "polo").status_code == 200  # Polri sees Dishub's cameras here ...
    r = api("POST", CAM + "/preset", "polo", {"preset": "2"})
    assert r.status_code == 403 and "only its own agency may steer it" in r.json()["error"]  # ... but does not steer them
    assert api("GET", "/api/cameras/nope/ptz", "ani").status_code == 404

    # commands reach the camera; the core knows the active preset; the caller holds the lock
    r = api("POST", CAM + "/preset", "ani", {"preset": "2"})
    assert r.status_code == 200, r.text
    assert r.json()["active_preset"] == {"id": "2", "name": "Simpang selatan"} and r.json()["active_source"] == "manual"
    assert r.json()["manual_control"]["owner"] == "ani" and 0 < r.json()["manual_control"]["expires_in_s"] <= 120
    assert emulator.position == [-0.4, -0.1, 0.2]
    r = api("POST", CAM + "/move", "ani", {"pan": 0.5, "tilt": -0.25})
    assert r.status_code == 200 and r.json()["active_preset"] is None
    assert emulator.velocity == [0.5, -0.25, 0.0]
    assert api("POST", CAM + "/stop", "ani").status_code == 200 and emulator.velocity == [0.0, 0.0, 0.0]
    assert api("POST", CAM + "/absolute", "ani", {"pan": 0.3, "tilt": 0.1, "zoom": 0.7}).status_code == 200
    assert api("POST", CAM + "/zoom", "ani", {"level": 0.2}).status_code == 200
    assert emulator.position == [0.3, 0.1, 0.2]
    r = api("GET", CAM + "/presets", "vera")
    assert r.status_code == 200 and [p["name"] for p in r.json()["presets"]] == ["Simpang utara", "Simpang selatan", "Halte"]

    # bad input: a clear 4xx with the reason
    for body, raw, status, reason in [
        (None, b"{not json", 400, "body: not valid JSON"),
        ([1, 2], None, 400, "body: expected a JSON object"),
        ({"pan": 2}, None, 400, "pan: 2 is outside -1..1"),
        ({"pan": "left"}, None, 400, "pan: expected a number"),
        ({"pan": True}, None, 400, "pan: expected a number"),
        ({"speed": 1}, None, 400, "speed: unknown key"),
    ]:
        r = api("POST", CAM + "/move", "ani", body, raw)
        assert (r.status_code, r.json()["error"][: len(reason)]) == (status, reason), r.text
    r = api("POST", CAM + "/absolute", "ani", {"pan": 0})
    assert r.status_code == 400 and r.json()["error"] == "tilt: missing value"
    r = api("POST", CAM + "/preset", "ani", {"preset": "9"})
    assert r.status_code == 404 and "no preset '9'" in r.json()["error"]
    r = api("POST", CAM + "/tour", "ani", {"enabled": False})
    assert r.status_code == 409 and "no patrol tour" in r.json()["error"]

    # manual control: another operator is refused, until the holder gives it back
    r = api("POST", CAM + "/stop", "budi")
    assert r.status_code == 409 and "under manual control by ani" in r.json()["error"]
    r = api("DELETE", CAM + "/control", "budi")
    assert r.status_code == 409
    r = api("DELETE", CAM + "/control", "ani")
    assert r.status_code == 200 and r.json()["manual_control"] is None
    assert api("POST", CAM + "/control", "budi").json()["manual_control"]["owner"] == "budi"
    assert api("DELETE", CAM + "/control", "adm").json()["manual_control"] is None  # an admin may free it

    # a command the camera refuses: 502 with its reason, the driver's plugin degraded
    emulator.fail["GotoPreset"] = "PTZ motor fault"
    r = api("POST", CAM + "/preset", "ani", {"preset": "1"})
    assert r.status_code == 502 and "PTZ motor fault" in r.json()["error"]
    state = api("GET", CAM, "ani").json()
    assert state["active_preset"] is None and "PTZ motor fault" in state["last_error"]["reason"]
    health = api("GET", "/api/health", "adm").json()  # plugin detail is for admins
    assert health["plugins"]["onvif_camera"]["status"] == "degraded"

    # credentials never leave the server
    assert not [b for b in api.bodies if PASSWORD in b]
    assert PASSWORD not in server.log()


def test_reading_presets_never_reaches_the_camera_and_refreshing_is_an_operators_action(
    make_deployment, start_server, emulator
):
    # found by the hardening probe (issue 11): GET .../presets by a viewer of another agency made the
    # camera replace its stored presets. A read serves what the core knows; refreshing is a steering user's.
    dep = deployment(make_deployment, emulator.port)
    tokens = make_tokens(dep.path, [*USERS, ("vipo", "viewer", "polri")])
    server = start_server(dep)
    api = Client(server.url, tokens)
    names = lambda user: [p["name"] for p in api("GET", CAM + "/presets", user).json()["presets"]]  # noqa: E731
    asked = lambda: emulator.ops().count("GetPresets")  # noqa: E731

    at_start = asked()
    emulator.presets = [EmulatedPreset("1", "Simpang utara (baru)", 0.1, 0.0, 0.0), EmulatedPreset("4", "Pasar", 0.5, 0, 0)]
    for user in ("vipo", "vera", "polo", "ani"):
        r = api("GET", CAM + "/presets", user)
        assert r.status_code == 200, r.text
        assert [p["name"] for p in r.json()["presets"]] == ["Simpang utara", "Simpang selatan", "Halte"]
    assert asked() == at_start  # no read reached the camera

    for user, status, reason in [
        ("vipo", 403, "role"),
        ("vera", 403, "role"),
        ("polo", 403, "only its own agency may steer it"),
    ]:
        r = api("POST", CAM + "/presets/refresh", user)
        assert r.status_code == status and reason in r.json()["error"], r.text
    assert asked() == at_start and names("vipo") == ["Simpang utara", "Simpang selatan", "Halte"]
    assert api("POST", CAM + "/presets/refresh", "ani", {"all": True}).status_code == 400

    r = api("POST", CAM + "/presets/refresh", "ani")
    assert r.status_code == 200 and [p["name"] for p in r.json()["presets"]] == ["Simpang utara (baru)", "Pasar"]
    assert asked() == at_start + 1
    assert names("vipo") == ["Simpang utara (baru)", "Pasar"]
    assert [p["id"] for p in api("GET", CAM, "vipo").json()["presets"]] == ["1", "4"]


def test_tour_runs_pauses_for_manual_control_and_resumes_after_timeout(make_deployment, start_server, emulator):
    dep = deployment(make_deployment, emulator.port, tour_dwell_s=1, manual_s=2)
    tokens = make_tokens(dep.path, USERS[:1])
    server = start_server(dep)
    api = Client(server.url, tokens)
    gotos = lambda: emulator.ops().count("GotoPreset")  # noqa: E731

    assert poll(lambda: gotos() >= 2)  # the core scheduler cycles the presets
    tour = api("GET", CAM, "ani").json()["tour"]
    assert tour["enabled"] and tour["state"] == "running" and [s["preset"] for s in tour["stops"]] == ["1", "2", "3"]

    r = api("POST", CAM + "/move", "ani", {"pan": 0.2})
    assert r.status_code == 200 and r.json()["tour"]["state"] == "paused" and r.json()["tour"]["paused_by"] == "ani"
    paused_at = gotos()
    time.sleep(1.5)
    assert gotos() == paused_at  # no tour move while the operator holds the camera
    assert poll(lambda: gotos() > paused_at, 5)  # the 2 s lock expired: the tour resumes
    assert api("GET", CAM, "ani").json()["tour"]["state"] == "running"

    r = api("POST", CAM + "/tour", "ani", {"enabled": False})
    assert r.status_code == 200 and r.json()["tour"]["state"] == "off"
    api("DELETE", CAM + "/control", "ani")
    off_at = gotos()
    time.sleep(2.0)
    assert gotos() == off_at
    r = api("POST", CAM + "/tour", "ani", {"enabled": "yes"})
    assert r.status_code == 400 and r.json()["error"] == "enabled: expected true or false"
