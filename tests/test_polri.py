"""Polri's cameras (camera side): inventory counts, streams, and the GPS fix API of mobile units.

The fix API runs on a real server with real accounts and tokens and a real
SQLite database; the server is restarted to show that the latest fix is kept.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from support.api_users import make_tokens
from support.deployment import MORE_AREAS

from core.config import Deployment
from core.interfaces import Capability
from core.plugin_host import PluginContext
from plugins.polri_etle.fixes import BadFix, Fix, FixStore, parse_fix
from plugins.polri_etle.inventory import INVENTORY, read_inventory
from plugins.polri_etle.plugin import Config, PolriEtle

FOUR_AREAS = {a: {"name": a} for a in ("beruang_madu", "beller", "balikpapan_baru", "wika")}


def driver(config: dict, areas=FOUR_AREAS) -> PolriEtle:
    deployment = Deployment.model_validate({"deployment": {"name": "t"}, "areas": areas})
    return PolriEtle(Config.model_validate(config), PluginContext("polri_etle", deployment, Path("."), logging.getLogger("t")))


def test_inventory_has_10_cctv_and_6_etle_at_their_sites():
    inv = read_inventory()
    assert inv.placeholder is True and len(inv.cameras) == 16
    assert Counter(c.kind for c in inv.cameras) == {"cctv": 10, "etle": 6}
    etle_sites = Counter(c.site for c in inv.cameras if c.kind == "etle")
    assert etle_sites == {"Simpang Beruang Madu": 3, "Simpang Balikpapan Plaza": 2, "Lapangan Merdeka": 1}
    mobile = [c for c in inv.cameras if c.mobile]
    assert len(mobile) == 3 and {c.kind for c in mobile} == {"cctv"}
    assert all(c.area in (None, *FOUR_AREAS) for c in inv.cameras)
    text = INVENTORY.read_text()
    assert "PLACEHOLDER" in text and "rtsp://" not in text and "password" not in text


async def test_cameras_static_and_mobile_with_streams_from_the_deployment():
    d = driver({"url_template": "rtsp://cam-{number}.polri.invalid:554/{kind}/{index}", "username": "polri", "password": "pw-polri-cam"})
    cams = {c.id: c for c in await d.cameras()}
    assert len(cams) == 16 and {c.agency for c in cams.values()} == {"polri"}
    assert cams["etle-bm-1"].main.url == "rtsp://cam-1.polri.invalid:554/etle/1"
    assert cams["polri-mobile-3"].main.url == "rtsp://cam-16.polri.invalid:554/cctv/10"
    assert [c.id for c in cams.values() if Capability.MOBILE in c.capabilities] == ["polri-mobile-1", "polri-mobile-2", "polri-mobile-3"]
    assert "pw-polri-cam" not in repr(list(cams.values())) and "pw-polri-cam" not in repr(d.config)
    assert d.units == {"patroli-1": "polri-mobile-1", "patroli-2": "polri-mobile-2", "patroli-3": "polri-mobile-3"}
    with pytest.raises(ValueError, match="camera 'etle-bm-1': area 'beruang_madu' is not declared"):
        driver({"url_template": "rtsp://x/{id}"}, areas={"beller": {"name": "Beller"}})


def test_fix_validation_says_why():
    now = datetime(2025, 6, 1, 0, 30, tzinfo=timezone.utc)
    fix = parse_fix("patroli-1", {"lat": -1.27, "lon": 116.83, "time": "2025-06-01T08:29:50+08:00"}, now)
    assert (fix.lat, fix.lon, fix.time) == (-1.27, 116.83, datetime(2025, 6, 1, 0, 29, 50, tzinfo=timezone.utc))
    for body, reason in [
        ([1], "body: expected a JSON object"),
        ({"lon": 1, "time": "2025-06-01T00:00:00Z"}, "lat: missing value"),
        ({"lat": 91, "lon": 1, "time": "2025-06-01T00:00:00Z"}, "lat: 91 is outside -90..90"),
        ({"lat": "x", "lon": 1, "time": "2025-06-01T00:00:00Z"}, "lat: expected a number"),
        ({"lat": 1, "lon": float("nan"), "time": "2025-06-01T00:00:00Z"}, "lon: expected a number"),
        ({"lat": 1, "lon": 1, "time": "yesterday"}, "time: 'yesterday' is not an ISO 8601 time"),
        ({"lat": 1, "lon": 1, "time": "2025-06-01T00:00:00"}, "time: needs a UTC offset"),
        ({"lat": 1, "lon": 1, "time": 1717200000}, "time: expected an ISO 8601 time"),
        ({"lat": 1, "lon": 1, "time": "2025-06-02T00:00:00Z"}, "time: 2025-06-02T00:00:00Z is in the future"),
        ({"lat": 1, "lon": 1, "time": "2025-06-01T00:00:00Z", "alt": 3}, "alt: unknown key"),
        # issue 11: these overflowed (a 500) instead of saying why
        ({"lat": 10**400, "lon": 1, "time": "2025-06-01T00:00:00Z"}, "lat: 100000000000... is outside -90..90"),
        ({"lat": 1, "lon": -(10**30), "time": "2025-06-01T00:00:00Z"}, "lon: -10000000000... is outside -180..180"),
        ({"lat": 1, "lon": 1, "time": "0001-01-01T00:00:00+08:00"}, "time: 0001-01-01T00:00:00+08:00 is out of range in UTC"),
        ({"lat": 1, "lon": 1, "time": "9999-12-31T23:59:59-08:00"}, "time: 9999-12-31T23:59:59-08:00 is out of range in UTC"),
        ({"lat": 1, "lon": 1, "time": "9999-12-31T23:59:59+08:00"}, "time: 9999-12-31T23:59:59+08:00 is in the future"),
    ]:
        with pytest.raises(BadFix) as err:
            parse_fix("patroli-1", body, now)
        assert str(err.value).startswith(reason), (body, str(err.value))


def test_position_at_the_time_of_an_event():
    store = FixStore({"patroli-1"})
    t = datetime(2025, 6, 1, tzinfo=timezone.utc)
    store._latest["patroli-1"] = Fix("patroli-1", -1.25, 116.87, t, t)
    assert store.position_at("patroli-1", t + timedelta(seconds=30), 60).lat == -1.25
    assert store.position_at("patroli-1", t + timedelta(seconds=90), 60) is None  # stale: unknown
    assert store.position_at("patroli-2", t, 60) is None


FIX_URL = "/api/polri_etle/units/patroli-1/fix"


def test_gps_fix_api_auth_validation_and_persistence(make_deployment, start_server):
    dep = make_deployment(
        MORE_AREAS
        + """
        [plugins.polri_etle]
        url_template = "rtsp://127.0.0.1:1/{id}"
        password = "pw-polri-cam"
        gps_stale_after_s = 600
        """
    )
    tokens = make_tokens(dep.path, [("polo", "officer", "polri"), ("vera", "viewer", "polri"), ("dina", "operator", "dishub")])
    server = start_server(dep)
    http = httpx.Client(base_url=server.url, timeout=10)
    auth = lambda user: {"Authorization": f"Bearer {tokens[user]}"}  # noqa: E731
    now = datetime.now(timezone.utc).replace(microsecond=0)
    fix = {"lat": -1.2745, "lon": 116.8348, "time": now.isoformat()}

    assert http.post(FIX_URL, json=fix).status_code == 401  # authentication required
    r = http.post(FIX_URL, json=fix, headers=auth("vera"))
    assert r.status_code == 403 and "role" in r.json()["error"]
    r = http.post(FIX_URL, json=fix, headers=auth("dina"))
    assert r.status_code == 403 and "only Polri's units" in r.json()["error"]
    r = http.post("/api/polri_etle/units/patroli-9/fix", json=fix, headers=auth("polo"))
    assert r.status_code == 404 and "no mobile unit 'patroli-9'" in r.json()["error"]
    r = http.post(FIX_URL, content=b"{oops", headers=auth("polo"))
    assert r.status_code == 400 and r.json()["error"] == "body: not valid JSON"
    r = http.post(FIX_URL, content=b" " * 100_000, headers=auth("polo"))
    assert r.status_code == 413 and r.json()["error"].startswith("body: too large")
    r = http.post(FIX_URL, json={**fix, "lat": 123}, headers=auth("polo"))
    assert r.status_code == 400 and r.json()["error"] == "lat: 123 is outside -90..90"
    r = http.post(FIX_URL, json={**fix, "time": now.replace(tzinfo=None).isoformat()}, headers=auth("polo"))
    assert r.status_code == 400 and r.json()["error"].startswith("time: needs a UTC offset")
    # issue 11: huge integers and times at the ends of the calendar are a 400 with the reason, not a 500
    for bad, reason in [
        # over HTTP the shared JSON reader (core/request_body.py) refuses it first, naming the key
        ({"lat": 10**400}, "lat: integer too large (at most ±9007199254740991)"),
        ({"time": "0001-01-01T00:00:00+08:00"}, "time: 0001-01-01T00:00:00+08:00 is out of range in UTC"),
        ({"time": "9999-12-31T23:59:59-08:00"}, "time: 9999-12-31T23:59:59-08:00 is out of range in UTC"),
    ]:
        r = http.post(FIX_URL, json={**fix, **bad}, headers=auth("polo"))
        assert (r.status_code, r.json()["error"]) == (400, reason)

    r = http.post(FIX_URL, json=fix, headers=auth("polo"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kept"] is True and body["camera"] == "polri-mobile-1"
    assert (body["fix"]["lat"], body["fix"]["lon"], body["fix"]["stale"]) == (-1.2745, 116.8348, False)
    older = {**fix, "lat": -1.0, "time": (now - timedelta(minutes=1)).isoformat()}
    r = http.post(FIX_URL, json=older, headers=auth("polo"))
    assert r.json()["kept"] is False and r.json()["fix"]["lat"] == -1.2745  # out of order: the newer stays

    units = http.get("/api/polri_etle/units", headers=auth("vera")).json()["units"]
    assert [(u["unit"], u["fix"] is not None) for u in units] == [("patroli-1", True), ("patroli-2", False), ("patroli-3", False)]
    assert http.get("/api/polri_etle/units", headers=auth("dina")).status_code == 403  # Dishub does not see Polri here
    assert "pw-polri-cam" not in server.log()

    # the latest fix is stored: a restarted server still knows it
    server.stop()
    server = start_server(dep)
    r = httpx.get(server.url + "/api/polri_etle/units/patroli-1", headers=auth("vera"), timeout=10)
    assert r.status_code == 200 and r.json()["fix"]["lat"] == -1.2745
    assert json.loads(r.text)["fix"]["time"] == now.isoformat()
