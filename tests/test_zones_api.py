"""The zones HTTP API on the real app and database: read, replace, export, import, access by agency, bad input.

The PTZ camera is the ONVIF device EMULATOR of tests/support/onvif_emulator.py
(no camera firmware can run here), reached through the real ONVIF driver; its
presets are "1", "2" and "3". The fixed cameras' streams are never played.
"""

from __future__ import annotations

import json

import pytest
from support.onvif_emulator import OnvifEmulator

from core.auth.audit import entries
from core.testing.app import add_user, bearer_headers, running_app
from core.config import load_file

PTZ = "/api/cameras/ptz-1/zones"
FIXED = "/api/cameras/fixed-1/zones"


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password="zones-pw", stream_uri="rtsp://127.0.0.1:1/main").start()
    yield emu
    emu.stop()


@pytest.fixture
def deployment(make_deployment, emulator):
    return make_deployment(
        f"""
        [[plugins.onvif_camera.devices]]
        id = "ptz-1"
        name = "Simpang (PTZ)"
        host = "127.0.0.1"
        port = {emulator.port}
        username = "admin"
        password = "zones-pw"
        agency = "dishub"
        area = "beruang_madu"
        timeout_s = 2

        [[plugins.stream_url.cameras]]
        id = "fixed-1"
        name = "Gerbang Beller"
        url = "rtsp://127.0.0.1:1/fixed"
        agency = "dishub"
        area = "beller"

        [[plugins.stream_url.cameras]]
        id = "etle-1"
        name = "ETLE Plaza"
        url = "rtsp://127.0.0.1:1/etle"
        agency = "polri"
        area = "beller"
        """
    )


def zone_file(camera: str, *zones: dict) -> dict:
    return {"format": "bconnect.zones", "version": 1, "camera": camera, "zones": list(zones)}


NO_PARKING = {"id": "np-west", "name": "West kerb", "kind": "no_parking", "preset": "2",
              "points": [[0.05, 0.62], [0.42, 0.55], [0.47, 0.98], [0.02, 0.98]], "windows": ["16:00-19:00"]}
LANE = {"id": "lane-in", "name": "Inbound", "kind": "traffic_lane", "preset": "1",
        "points": [[0.48, 0.55], [0.62, 0.55], [0.8, 0.98], [0.5, 0.98]], "direction": [0.1, 1.0]}
GATE = {"id": "gate", "name": "Gate", "kind": "restricted_area",
        "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]], "windows": ["22:00-05:00"], "days": ["fri"]}


async def test_zones_are_read_replaced_exported_and_imported(deployment):
    async with running_app(load_file(deployment.path)) as (app, client):
        ani = await bearer_headers(await add_user("ani", role="operator", agency="dishub"))

        r = await client.get(PTZ, headers=ani)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["revision"], body["zones"], body["ptz"]) == (0, [], True)
        assert [p["id"] for p in body["presets"]] == ["1", "2", "3"]
        assert r.headers["etag"] == '"0"'

        r = await client.put(PTZ, headers=ani | {"If-Match": '"0"'}, json=zone_file("ptz-1", NO_PARKING, LANE))
        assert r.status_code == 200, r.text
        assert (r.json()["revision"], r.json()["updated_by"], r.headers["etag"]) == (1, "ani", '"1"')
        got = (await client.get(PTZ, headers=ani)).json()
        assert got["zones"] == [NO_PARKING, LANE] and got["revision"] == 1
        # the rules see them at once, per preset
        services = app.state.services
        assert [z.id for z in services.public().zones.zones("ptz-1", "2")] == ["np-west"]

        # export: a download that imports to the same zones
        r = await client.get(PTZ + "/export", headers=ani)
        assert r.status_code == 200
        assert r.headers["content-disposition"] == 'attachment; filename="zones-ptz-1.json"'
        exported = r.text
        assert json.loads(exported) == zone_file("ptz-1", NO_PARKING, LANE)

        # someone else saved in between: a save based on revision 1 is refused with the reason
        r = await client.put(PTZ, headers=ani | {"If-Match": '"1"'}, json=zone_file("ptz-1", LANE))
        assert r.status_code == 200 and r.json()["revision"] == 2
        r = await client.put(PTZ, headers=ani | {"If-Match": '"1"'}, json=zone_file("ptz-1"))
        assert r.status_code == 409 and r.headers["etag"] == '"2"'
        assert "at version 2, the edit was based on version 1" in r.json()["error"]

        # import the exported file (on revision 2, with If-Match; or without: it replaces what is there)
        r = await client.post(PTZ + "/import", headers=ani | {"If-Match": '"2"'}, content=exported)
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == 3 and r.json()["zones"] == [NO_PARKING, LANE]

        # a fixed camera: zones without a preset
        r = await client.put(FIXED, headers=ani, json=zone_file("fixed-1", GATE))
        assert r.status_code == 200 and r.json()["ptz"] is False and r.json()["zones"] == [GATE]

        log = await entries(action="zones.replace")
        assert [(e.actor, e.target) for e in log][:2] == [("ani", "fixed-1"), ("ani", "ptz-1")]
        assert log[0].detail == "revision 1: 1 zones (gate)"
        assert [e.detail for e in await entries(action="zones.import")] == ["revision 3: 2 zones (np-west, lane-in)"]


async def test_who_may_read_and_edit_zones(deployment):
    async with running_app(load_file(deployment.path)) as (app, client):
        headers = {}
        for name, role, agency in [("ani", "operator", "dishub"), ("vera", "viewer", "dishub"), ("polo", "operator", "polri"),
                                   ("ofi", "officer", "polri"), ("adm", "admin", "pemkot")]:
            headers[name] = await bearer_headers(await add_user(name, role=role, agency=agency))
        body = zone_file("etle-1", GATE)

        assert (await client.get(PTZ)).status_code == 401
        assert (await client.get(PTZ, headers=headers["vera"])).status_code == 200  # viewers read
        r = await client.put(PTZ, headers=headers["vera"], json=zone_file("ptz-1"))
        assert r.status_code == 403 and "role" in r.json()["error"]
        r = await client.put(PTZ, headers=headers["ofi"], json=zone_file("ptz-1"))
        assert r.status_code == 403
        # Dishub does not see Polri's cameras (the test deployment's access rules): unknown, also to edit
        for path in ("/api/cameras/etle-1/zones", "/api/cameras/etle-1/zones/export"):
            r = await client.get(path, headers=headers["ani"])
            assert r.status_code == 404 and r.json()["error"] == "unknown camera 'etle-1'"
        assert (await client.put("/api/cameras/etle-1/zones", headers=headers["ani"], json=body)).status_code == 404
        assert (await client.post("/api/cameras/etle-1/zones/import", headers=headers["ani"], json=body)).status_code == 404
        # an operator of an agency that sees the camera edits it; an admin any
        r = await client.put("/api/cameras/etle-1/zones", headers=headers["polo"], json=body)
        assert r.status_code == 200, r.text
        r = await client.put(FIXED, headers=headers["polo"], json=zone_file("fixed-1", GATE))  # Polri sees Dishub's
        assert r.status_code == 200, r.text
        r = await client.put("/api/cameras/etle-1/zones", headers=headers["adm"], json=zone_file("etle-1"))
        assert r.status_code == 200 and r.json()["updated_by"] == "adm"
        assert (await client.get("/api/cameras/nope/zones", headers=headers["adm"])).status_code == 404
        # what analytics see now (the overlay's boxes), under the same access rule as the zones
        r = await client.get("/api/cameras/etle-1/tracks", headers=headers["vera"])
        assert r.status_code == 404 and r.json()["error"] == "unknown camera 'etle-1'"
        r = await client.get("/api/cameras/etle-1/tracks", headers=headers["polo"])
        assert r.status_code == 200 and r.json() == {
            "camera": "etle-1", "tracks": [], "reason": "no analyzer watches this camera"}


async def test_bad_zone_files_are_refused_with_every_reason(deployment):
    async with running_app(load_file(deployment.path)) as (app, client):
        ani = await bearer_headers(await add_user("ani", role="operator", agency="dishub"))

        async def put(path: str, body=None, raw: bytes | None = None, **headers):
            r = await client.put(path, headers=ani | headers, json=body if raw is None else None, content=raw)
            assert r.status_code < 500, r.text
            return r

        crossing = dict(NO_PARKING, points=[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]])
        r = await put(PTZ, zone_file("ptz-1", crossing, dict(LANE, kind="parking", colour="red"), dict(GATE, preset="9")))
        assert r.status_code == 422
        problems = {(p["key"], p["reason"].split(":")[0]) for p in r.json()["problems"]}
        assert ("zones[0].points", "edge points[0]-points[1] meets edge points[2]-points[3]") in problems
        assert ("zones[1].kind", "unknown zone kind 'parking' (kinds") in problems
        assert ("zones[1].colour", "unknown key") in problems
        assert all(p["line"] for p in r.json()["problems"])

        # presets: named ones must exist on the camera; a PTZ camera's zones need one; a fixed camera's none
        r = await put(PTZ, zone_file("ptz-1", dict(GATE, preset="9"), dict(GATE, id="gate-2")))
        assert r.status_code == 422
        assert [(p["key"], p["reason"]) for p in r.json()["problems"]] == [
            ("zones[0].preset", "unknown preset '9' (presets: 1, 2, 3)"),
            ("zones[1].preset", "camera ptz-1 is a PTZ camera: name the preset the zone belongs to (presets: 1, 2, 3)"),
        ]
        r = await put(FIXED, zone_file("fixed-1", NO_PARKING))
        assert r.status_code == 422 and "has no presets (not a PTZ camera)" in r.json()["error"]

        for raw, status, reason in [
            (b"{not json", 400, "body: line 1: invalid JSON"),
            (b"", 400, "body: empty"),
            (b"[" * 100_000, 400, "body: file: invalid JSON: nested too deeply"),
            (b"\xff\xfe", 400, "body: file: not UTF-8 text"),
            (b"[1, 2]", 422, "a zone file holds one JSON object"),
            (b'{"format": "other"}', 422, "format: not a B-Connect zone file"),
            (json.dumps(zone_file("ptz-1") | {"version": 2}).encode(), 422, "version: version 2 is newer"),
            (json.dumps(zone_file("fixed-1")).encode(), 422, "camera: the file is for camera 'fixed-1', not 'ptz-1'"),
            (json.dumps(zone_file("ptz-1", {"id": "x"})).encode(), 422, "zones[0].name: missing value"),
        ]:
            r = await put(PTZ, raw=raw)
            assert (r.status_code, r.json()["error"][: len(reason)]) == (status, reason), r.text
        r = await put(PTZ, zone_file("ptz-1"), **{"If-Match": "yesterday"})
        assert r.status_code == 400 and r.json()["error"].startswith("If-Match: expected the zones' revision")
        r = await client.put(PTZ, headers=ani, content=b" " * (600 * 1024))
        assert r.status_code == 413
        # nothing of it was stored
        assert (await client.get(PTZ, headers=ani)).json()["revision"] == 0
