"""Who sees what in ``GET /api/health``: counts for anyone, camera detail per agency, plugin detail for admins.

The app is the real one, in-process with its lifespan; the cameras come from
the stream_url plugin (a garbage file and an unreachable port, so each has a
failure reason) and ``tp_faulty`` gives a plugin a reason of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support.appclient import bearer_headers, running
from support.thirdparty import thirdparty  # noqa: F401  (fixture)
from support.waiting import wait_for

from core.app import create_app
from core.testing import app as testing
from core.auth.sessions import COOKIE
from core.config import load_file

PLUGIN_REASON = "tp_faulty broke in health"
DISHUB_REASON = "not a video stream"
POLRI_REASON = "connection refused"


@pytest.fixture
async def client(make_deployment, thirdparty, tmp_path) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 200)
    deployment = make_deployment(
        f"""
        [plugins.tp_faulty]
        fail_in = ["health"]

        [plugins.stream_url]
        [[plugins.stream_url.cameras]]
        id = "dishub-junk"
        name = "Simpang junk"
        url = "{junk}"
        agency = "dishub"

        [[plugins.stream_url.cameras]]
        id = "polres-gate"
        name = "Polres gate"
        url = "rtsp://127.0.0.1:1/stream"
        agency = "polri"
        """
    )
    app = create_app(load_file(deployment.path))
    async with running(app) as http:
        cameras = app.state.services.cameras
        await wait_for(lambda: all(rt.status.reason for rt in cameras.all()), 15, "both cameras failed once")
        yield http


async def test_anonymous_caller_gets_counts_only(client):
    r = await client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "degraded",
        "uptime_s": r.json()["uptime_s"],
        "cameras": {"total": 2, "online": 0, "reconnecting": 0, "offline": 1, "error": 1, "starting": 0},
        "plugins": {"total": 2, "degraded": 1},
    }
    for secret in ("dishub-junk", "polres-gate", "127.0.0.1", DISHUB_REASON, POLRI_REASON, PLUGIN_REASON, "tp_faulty"):
        assert secret not in r.text
    assert (await client.head("/api/health")).status_code == 200


async def test_operator_sees_the_cameras_of_agencies_they_may_watch_and_plugin_counts(client):
    dishub = await bearer_headers("ani", "operator", "dishub")  # may watch dishub and pemkot, not polri
    r = await client.get("/api/health", headers=dishub)
    assert r.status_code == 200
    body = r.json()
    assert set(body["cameras"]) == {"dishub-junk"}
    assert body["cameras"]["dishub-junk"]["state"] == "error" and DISHUB_REASON in body["cameras"]["dishub-junk"]["reason"]
    assert "polres-gate" not in r.text and POLRI_REASON not in r.text
    assert body["plugins"] == {"total": 2, "degraded": 1} and PLUGIN_REASON not in r.text

    polri = await bearer_headers("polo", "officer", "polri")  # polri may watch dishub's cameras too
    assert set((await client.get("/api/health", headers=polri)).json()["cameras"]) == {"dishub-junk", "polres-gate"}


async def test_admin_sees_every_camera_and_plugin_reasons(client):
    user = await testing.add_user("boss", "a-long-test-password-1", role="admin", agency="pemkot")
    for headers in (await testing.bearer_headers(user), await testing.session_headers(user)):
        body = (await client.get("/api/health", headers=headers)).json()
        assert body["cameras"]["polres-gate"]["state"] == "offline"
        assert body["cameras"]["polres-gate"]["reason"] == POLRI_REASON
        assert body["cameras"]["dishub-junk"]["sub_stream"] is None
        assert body["plugins"]["tp_faulty"]["status"] == "degraded"
        assert PLUGIN_REASON in body["plugins"]["tp_faulty"]["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer bct_not-a-real-token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Cookie": f"{COOKIE}=expired-or-forged"},
    ],
    ids=["unknown-token", "empty-bearer", "basic", "bad-cookie"],
)
async def test_bad_credentials_get_the_anonymous_view(client, headers):
    r = await client.get("/api/health", headers=headers)
    assert r.status_code == 200
    assert r.json()["cameras"]["total"] == 2 and set(r.json()["plugins"]) == {"total", "degraded"}
    assert "polres-gate" not in r.text and PLUGIN_REASON not in r.text


async def test_a_disabled_users_token_gets_the_anonymous_view(client):
    from core.models import User

    headers = await bearer_headers("gone", "admin", "pemkot")
    assert "tp_faulty" in (await client.get("/api/health", headers=headers)).text
    await User.filter(username="gone").update(disabled=True)
    r = await client.get("/api/health", headers=headers)
    assert r.status_code == 200 and "tp_faulty" not in r.text and "polres-gate" not in r.text
