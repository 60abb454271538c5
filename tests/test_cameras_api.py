"""The camera API of the real app (auth included): list, detail, snapshot, health, agency filtering.

Cameras come from the stream_url plugin as a deployment gives them: a real
GStreamer RTSP camera, one with credentials, a garbage file and an unreachable
host. The app runs in-process with its lifespan (database, plugins, ingest).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import av
import httpx
import pytest
from support.appclient import bearer_headers, running
from support.waiting import wait_for

from core.app import create_app
from core.config import load_file
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

SECRET = "cam-s3cret-pw"


@pytest.fixture
async def app_client(make_deployment, rtsp_server, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 200)
    deployment = make_deployment(
        f"""
        [plugins.stream_url]
        [[plugins.stream_url.cameras]]
        id = "live"
        name = "Simpang Beruang Madu"
        url = "{rtsp_server.url("h264_gop1")}"
        agency = "dishub"
        area = "beruang_madu"
        username = "viewer"
        password = "{SECRET}"

        [[plugins.stream_url.cameras]]
        id = "police"
        name = "Polres gate"
        url = "rtsp://polri:{SECRET}@127.0.0.1:1/stream"
        agency = "polri"

        [[plugins.stream_url.cameras]]
        id = "junk"
        name = "Junk file"
        url = "{junk}"
        agency = "dishub"
        """
    )
    app = create_app(load_file(deployment.path))
    async with running(app) as client:
        client.app = app
        yield client


async def test_list_and_detail_never_show_urls_or_credentials(app_client):
    admin = await bearer_headers("boss", "admin", "pemkot")
    r = await app_client.get("/api/cameras", headers=admin)
    assert r.status_code == 200
    cameras = {c["id"]: c for c in r.json()}
    assert set(cameras) == {"live", "police", "junk"}
    live = cameras["live"]
    assert live["name"] == "Simpang Beruang Madu" and live["agency"] == "dishub"
    assert live["area"] == "beruang_madu" and live["area_name"] == "Beruang Madu" and live["driver"] == "stream_url"
    assert live["capabilities"] == ["snapshot"] and live["presets"] == 0
    # beruang_madu is switched on in the test deployment; a camera with no area only educates
    assert live["mode"] == "enforcement" and cameras["police"]["mode"] == "education"
    assert live["status"]["state"] in ("starting", "online")
    body = r.text + (await app_client.get("/api/cameras/police", headers=admin)).text
    assert SECRET not in body and "rtsp://" not in body and "viewer" not in body

    r = await app_client.get("/api/cameras/live", headers=admin)
    assert r.status_code == 200 and r.json()["id"] == "live"

    r = await app_client.get("/api/cameras/nope", headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "unknown camera 'nope'"


async def test_unauthenticated_requests_are_refused(app_client):
    for path in ("/api/cameras", "/api/cameras/live", "/api/cameras/live/snapshot.jpg"):
        r = await app_client.get(path)
        assert r.status_code == 401, path


async def test_users_see_only_their_agencies_cameras(app_client):
    # dishub users watch dishub and pemkot cameras (the test deployment's [access.dishub])
    dishub = await bearer_headers("ops", "operator", "dishub")
    r = await app_client.get("/api/cameras", headers=dishub)
    assert sorted(c["id"] for c in r.json()) == ["junk", "live"]
    for path in ("/api/cameras/police", "/api/cameras/police/snapshot.jpg"):
        r = await app_client.get(path, headers=dishub)
        assert r.status_code == 404 and "unknown camera" in r.json()["error"]
    polri = await bearer_headers("cop", "officer", "polri")
    r = await app_client.get("/api/cameras", headers=polri)
    assert sorted(c["id"] for c in r.json()) == ["junk", "live", "police"]


async def test_snapshot_and_status_of_good_and_bad_cameras(app_client):
    admin = await bearer_headers("boss", "admin", "pemkot")
    cameras = app_client.app.state.services.cameras
    await wait_for(lambda: cameras.get("live").mux.last_keyframe() is not None, 15, "a keyframe from the camera")

    r = await app_client.get("/api/cameras/live/snapshot.jpg", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with av.open(io.BytesIO(r.content), format="image2pipe") as c:
        frame = next(c.decode(video=0))
    assert (frame.width, frame.height) == (640, 360)

    await wait_for(lambda: cameras.get("junk").status.attempts >= 1, 10, "the junk file tried")
    await wait_for(lambda: cameras.get("police").status.attempts >= 1, 10, "the unreachable camera tried")
    r = await app_client.get("/api/cameras/junk/snapshot.jpg", headers=admin)
    assert r.status_code == 503
    assert "no keyframe" in r.json()["error"] and "not a video stream" in r.json()["error"]
    r = await app_client.get("/api/cameras/nope/snapshot.jpg", headers=admin)
    assert r.status_code == 404 and r.json()["error"] == "unknown camera 'nope'"

    r = await app_client.get("/api/cameras", headers=admin)
    status = {c["id"]: c["status"] for c in r.json()}
    assert status["live"]["state"] == "online" and status["live"]["last_packet_at"]
    assert status["junk"]["state"] == "error" and "not a video stream" in status["junk"]["reason"]
    assert status["police"]["state"] == "offline" and status["police"]["reason"] == "connection refused"
    stream = {c["id"]: c["stream"] for c in r.json()}
    assert stream["live"]["codec"] == "h264" and (stream["live"]["width"], stream["live"]["height"]) == (640, 360)

    # the app keeps running and reports every camera in its health (to a user; a probe gets counts)
    r = await app_client.get("/api/health", headers=admin)
    assert r.status_code == 200
    health = r.json()["cameras"]
    assert health["live"]["state"] == "online" and health["live"]["codec"] == "h264"
    assert health["junk"]["state"] == "error" and health["police"]["state"] == "offline"
    assert SECRET not in r.text


def test_stream_url_config_mistakes_are_precise(make_deployment):
    from core.testing.pytest_plugin import bconnect

    d = make_deployment(
        """
        [plugins.stream_url]
        [[plugins.stream_url.cameras]]
        id = "gate1"
        name = "Gate 1"
        url = "ftp://gate1.pemkot.invalid/stream"
        """
    )
    result = bconnect("check-config", str(d.path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    line = next(n for n, text in enumerate(d.path.read_text().splitlines(), 1) if "ftp://" in text)
    assert f"deployment.toml:{line}: [plugins.stream_url.cameras[0].url]" in result.stderr, result.stderr
    assert "unsupported URL scheme 'ftp'" in result.stderr

    d = make_deployment(
        """
        [plugins.stream_url]
        [[plugins.stream_url.cameras]]
        id = "gate1"
        name = "Gate 1"
        url = "rtsp://gate1.pemkot.invalid/stream"
        area = "nowhere"
        password_env = "BCONNECT_TEST_GATE1_PW"
        """
    )
    result = bconnect("check-config", str(d.path), env={"BCONNECT_TEST_GATE1_PW": "x"})
    assert result.returncode != 0 and "unknown area 'nowhere'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
