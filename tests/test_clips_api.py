"""Evidence clips over HTTP, against a running server and GStreamer's real RTSP server.

Cut a clip, follow it until ready, download it and check its bytes, hash and
picture; the refusals; who sees which clips; and that the clips outlive the
server process, a cut lost in a crash showing as failed, "interrupted".
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
import httpx
import pytest
from support.api_users import make_tokens

from core.media.clip_jobs import ClipJobs
from core.media.clips import ClipWriter
from core.models import AuditEntry, EvidenceClip
from core.storage import CORE_MODELS, close_database, open_database
from core.testing.rtsp import DEFAULT_MOUNTS, RtspServer, start_rtsp_server

USERS = [
    ("boss", "admin", "pemkot"),
    ("dop", "operator", "dishub"),  # sees dishub and pemkot cameras (the test deployment's access rules)
    ("dview", "viewer", "dishub"),
    ("pof", "officer", "polri"),  # sees dishub, polri and pemkot cameras
]


@pytest.fixture
def rtsp() -> Iterator[RtspServer]:
    """One GStreamer server per test, one mount per camera: clients arriving together on one shared
    mount, or just after others vanished from it, were refused and the server stopped answering."""
    gop1 = DEFAULT_MOUNTS["h264_gop1"]  # a keyframe every second, parameter sets in band
    srv = start_rtsp_server({"dcam": gop1, "pcam": gop1})
    yield srv
    srv.stop()


def cameras_toml(rtsp: RtspServer) -> str:
    out = "[plugins.stream_url]\n"
    for cid, agency, url in (
        ("dcam", "dishub", rtsp.url("dcam")),
        ("pcam", "polri", rtsp.url("pcam")),
        ("dead", "dishub", "rtsp://127.0.0.1:1/nothing"),
    ):
        out += f'[[plugins.stream_url.cameras]]\nid = "{cid}"\nname = "{cid}"\nurl = "{url}"\nagency = "{agency}"\n'
    return out


@dataclass
class Site:
    deployment: object
    tokens: dict[str, str]
    start: object
    server: object = None

    def launch(self) -> None:
        self.server = self.start(self.deployment)

    def client(self, user: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=20)

    def audit(self, action: str) -> list[tuple[str, str, str]]:
        db = self.deployment.data_dir / "bconnect.db"
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY id", (action,))
            return rows.fetchall()


@pytest.fixture
def site(make_deployment, start_server, rtsp) -> Site:
    dep = make_deployment(cameras_toml(rtsp))
    s = Site(dep, make_tokens(dep.path, USERS), start_server)
    s.launch()
    return s


async def wait_online(http: httpx.AsyncClient, camera_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (await http.get(f"/api/cameras/{camera_id}")).json()["status"]["state"] != "online":
        assert time.monotonic() < deadline, f"camera {camera_id} not online within {timeout:g} s"
        await asyncio.sleep(0.1)


async def wait_done(http: httpx.AsyncClient, location: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while (body := (await http.get(location)).json())["status"] == "pending":
        assert time.monotonic() < deadline, f"{location} still pending after {timeout:g} s"
        await asyncio.sleep(0.2)
    return body


async def cut(http: httpx.AsyncClient, camera_id: str, **body) -> httpx.Response:
    return await http.post(f"/api/cameras/{camera_id}/clips", json=body)


async def test_cut_follow_download_and_survive_a_crash(site):
    async with site.client("dop") as http:
        await wait_online(http, "dcam")
        await asyncio.sleep(1.2)  # a keyframe at least a second old in the ring
        r = await cut(http, "dcam", pre_s=1, post_s=1, note="truck on the median")
        assert r.status_code == 202, r.text
        first = r.json()
        location = r.headers["location"]
        assert location == f"/api/clips/{first['id']}"
        assert (first["status"], first["camera"], first["created_by"], first["note"]) == (
            "pending", "dcam", "dop", "truck on the median"
        )
        assert first["requested"] == {"pre_s": 1.0, "post_s": 1.0} and first["file"] is None

        clip = await wait_done(http, location)
        assert clip["status"] == "ready", clip
        assert (clip["codec"], clip["width"], clip["height"]) == ("h264", 640, 360)
        # pre-roll from a keyframe at least 1 s back (keyframes every 1 s) plus 1 s
        assert 1.9 <= clip["duration_s"] <= 3.2 and clip["frames"] >= 45
        # the pre-roll began before the request; the file was done after it
        assert clip["started_at"] < clip["created_at"] < clip["finished_at"]
        assert clip["started_at"] < clip["ended_at"]

        r = await http.get(clip["file"])
        assert r.status_code == 200
        assert r.headers["content-type"] == "video/mp4"
        assert r.headers["content-disposition"].startswith("attachment;") and ".mp4" in r.headers["content-disposition"]
        data = r.content
        digest = r.headers["repr-digest"]
        assert digest.startswith("sha-256=:") and digest.endswith(":")
        assert hashlib.sha256(data).hexdigest() == base64.b64decode(digest[9:-1]).hex() == clip["sha256"]
        assert len(data) == clip["size"]
        with av.open(io.BytesIO(data)) as c:
            stream = c.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
            frames = [f for f in c.decode(stream)]
        assert len(frames) == clip["frames"] and (frames[0].width, frames[0].height) == (640, 360)

        part = await http.get(clip["file"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["repr-digest"] == digest  # the whole file's, not the part's

        second = (await cut(http, "dcam", pre_s=0, post_s=0.5)).json()
        assert (await wait_done(http, f"/api/clips/{second['id']}"))["status"] == "ready"
        lost = await cut(http, "dcam", pre_s=0, post_s=60)  # still pending when the server dies
        assert lost.status_code == 202
        listing = (await http.get("/api/cameras/dcam/clips")).json()
        assert [c["id"] for c in listing["clips"]] == [lost.json()["id"], second["id"], first["id"]]
        assert [c["status"] for c in listing["clips"]] == ["pending", "ready", "ready"]

    # who cut what is in the audit trail (read while the server runs: SQLite WAL)
    cuts = site.audit("clip.cut")
    ids = [first["id"], second["id"], lost.json()["id"]]
    assert [(actor, target) for actor, target, _ in cuts] == [("dop", i) for i in ids]
    assert "truck on the median" in cuts[0][2] and "camera dcam" in cuts[0][2]
    # every answer with clip bytes: the whole download, and the range request too
    assert [(actor, target, detail) for actor, target, detail in site.audit("clip.download")] == [
        ("dop", first["id"], f"camera dcam, whole file, {clip['size']} bytes"),
        ("dop", first["id"], f"camera dcam, bytes 100-199 of {clip['size']}"),
    ]

    site.server.process.kill()  # a crash: no shutdown hooks run
    site.server.process.wait(10)
    site.launch()
    async with site.client("dop") as http:
        listing = (await http.get("/api/cameras/dcam/clips", params={"limit": 2})).json()
        assert listing["total"] == 3 and listing["limit"] == 2
        assert [c["id"] for c in listing["clips"]] == [lost.json()["id"], second["id"]]
        gone = listing["clips"][0]
        assert (gone["status"], gone["reason"], gone["file"]) == ("failed", "interrupted", None)
        older = (await http.get("/api/cameras/dcam/clips", params={"limit": 2, "offset": 2})).json()
        assert [c["id"] for c in older["clips"]] == [first["id"]]
        assert older["clips"][0] == clip  # unchanged by the restart
        again = await http.get(clip["file"])
        assert again.status_code == 200 and hashlib.sha256(again.content).hexdigest() == clip["sha256"]
        r = await http.get(f"/api/clips/{gone['id']}/file")
        assert r.status_code == 409 and "interrupted" in r.json()["error"]


async def test_refusals_say_why(site):
    async with site.client("dop") as http:
        await wait_online(http, "dcam")
        url = "/api/cameras/dcam/clips"
        bad = [
            (b"{not json", 400, "not valid JSON"),
            (b"[1, 2]", 400, "JSON object"),
            (b'{"colour": 1}', 400, "colour: unknown key"),
            (b'{"pre_s": "ten"}', 400, "pre_s: expected a number"),
            (b'{"pre_s": true}', 400, "pre_s: expected a number"),
            (b'{"post_s": NaN}', 400, "post_s: expected a number"),
            (b'{"note": 5}', 400, "note: expected a string"),
            (b'{"pre_s": -1}', 422, "pre_s: -1 is outside"),
            (b'{"pre_s": 1000}', 422, "pre_s: 1000 is outside"),
            (b'{"post_s": 61}', 422, "post_s: 61 is outside 0..60"),
            (json.dumps({"note": "x" * 501}).encode(), 422, "note: 501 characters, at most 500"),
        ]
        for body, status, reason in bad:
            r = await http.post(url, content=body, headers={"Content-Type": "application/json"})
            assert (r.status_code, reason in r.json()["error"]) == (status, True), (body[:30], r.text)
        r = await http.post(url, content=b"x" * 70_000)
        assert r.status_code == 413

        r = await cut(http, "nosuch", post_s=1)
        assert r.status_code == 404 and "nosuch" in r.json()["error"]
        r = await cut(http, "dead", post_s=1)
        assert r.status_code == 503 and "has sent no video yet" in r.json()["error"]
        for path in ("/api/clips/nothex", "/api/clips/0123456789abcdef", "/api/clips/0123456789abcdef/file",
                     "/api/cameras/nosuch/clips"):
            r = await http.get(path)
            assert r.status_code == 404 and "unknown" in r.json()["error"], path
        for query, status, reason in (({"limit": 0}, 422, "limit: 0 is outside 1..200"),
                                      ({"limit": "ten"}, 400, "limit: expected an integer"),
                                      ({"offset": -1}, 422, "offset: -1 is outside")):
            r = await http.get(url, params=query)
            assert r.status_code == status and reason in r.json()["error"], query
        assert (await http.get(url)).json()["clips"] == []  # nothing was cut by the refused requests
    assert site.audit("clip.cut") == []

    async with site.client("dview") as http:
        r = await cut(http, "dcam", post_s=1)
        assert r.status_code == 403 and "you are viewer" in r.json()["error"]
        assert (await http.get("/api/cameras/dcam/clips")).status_code == 200
    async with site.client(None) as http:
        assert (await cut(http, "dcam", post_s=1)).status_code == 401


async def test_browser_session_needs_the_csrf_token(site):
    async with httpx.AsyncClient(base_url=site.server.url, timeout=20) as http:
        r = await http.post("/api/login", json={"username": "dop", "password": "pw-dop-0123456789"})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        await wait_online(http, "dcam")
        r = await cut(http, "dcam", pre_s=0, post_s=0.2)
        assert r.status_code == 403 and "CSRF" in r.json()["error"]
        r = await http.post("/api/cameras/dcam/clips", json={"pre_s": 0, "post_s": 0.2}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 202, r.text


async def test_agencies_see_only_the_clips_of_cameras_they_may_watch(site):
    async with site.client("pof") as police, site.client("dop") as dishub, site.client("boss") as admin:
        await wait_online(police, "pcam")
        await wait_online(police, "dcam")
        r = await cut(police, "pcam", pre_s=0, post_s=30, note="polri case 17")
        assert r.status_code == 202, r.text
        clip = r.json()
        location = r.headers["location"]
        assert (await police.get(location)).json()["status"] == "pending"
        r = await police.get(location + "/file")
        assert r.status_code == 409 and "still being cut" in r.json()["error"]

        # dishub may not watch polri's cameras: the clip and the camera do not exist for them
        for path in (location, location + "/file", "/api/cameras/pcam/clips"):
            r = await dishub.get(path)
            assert r.status_code == 404, path
        assert (await cut(dishub, "pcam", post_s=1)).status_code == 404

        assert (await admin.get(location)).json()["note"] == "polri case 17"
        assert [c["id"] for c in (await admin.get("/api/cameras/pcam/clips")).json()["clips"]] == [clip["id"]]

        # polri may watch dishub's cameras and cut from them; dishub then sees that clip
        r = await cut(police, "dcam", pre_s=0, post_s=30)
        assert r.status_code == 202
        assert (await dishub.get(r.headers["location"])).json()["created_by"] == "pof"

        # at most 8 cuts in flight in total
        for _ in range(6):
            assert (await cut(admin, "dcam", pre_s=0, post_s=30)).status_code == 202
        r = await cut(admin, "pcam", pre_s=0, post_s=1)
        assert r.status_code == 503 and "8 clips are being cut" in r.json()["error"]
        assert r.headers["retry-after"] == "5"

    # a clean stop ends the post-rolls and writes the clips with what they recorded
    site.server.stop()
    site.launch()
    async with site.client("pof") as police:
        done = (await police.get(location)).json()
        assert done["status"] == "ready" and 0 < done["duration_s"] < 30 and done["requested"]["post_s"] == 30


async def test_restart_adopts_a_clip_written_before_the_crash_and_fails_the_rest(tmp_path):
    """The start-up check of pending clips, on a real database and real files (no camera needed)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    body = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40
    sha = hashlib.sha256(body).hexdigest()
    meta = {"camera_id": "cam", "started_at": 1_750_000_000.5, "duration_s": 2.0, "frames": 50, "codec": "h264",
            "width": 640, "height": 360, "sha256": sha, "size": len(body)}
    (clips / "written.mp4").write_bytes(body)
    (clips / "written.json").write_text(json.dumps(meta))
    (clips / "tampered.mp4").write_bytes(body + b"x")
    (clips / "tampered.json").write_text(json.dumps(meta))
    (clips / ".half.mp4.tmp").write_bytes(body[:100])

    await open_database(f"sqlite://{(tmp_path / 'db.sqlite').as_posix()}", [CORE_MODELS])
    try:
        for cid, file in (("a" * 16, "written.mp4"), ("b" * 16, "tampered.mp4"), ("c" * 16, "half.mp4")):
            await EvidenceClip.create(
                id=cid, camera_id="cam", agency="dishub", created_by="t", pre_s=1, post_s=1, file=file
            )
        await EvidenceClip.create(id="d" * 16, camera_id="cam", agency="dishub", created_by="t", pre_s=1, post_s=1,
                                  file="x.mp4", status="failed", reason="camera 'cam' has sent no keyframe yet")
        assert await ClipJobs(ClipWriter(None, clips)).recover() == 3

        written = await EvidenceClip.get(id="a" * 16)
        assert (written.status, written.sha256, written.size, written.frames) == ("ready", sha, len(body), 50)
        assert written.started_at.timestamp() == 1_750_000_000.5
        for cid in ("b" * 16, "c" * 16):
            row = await EvidenceClip.get(id=cid)
            assert (row.status, row.reason, row.finished_at is not None) == ("failed", "interrupted", True)
        assert (await EvidenceClip.get(id="d" * 16)).reason.startswith("camera")  # settled ones stay as they were
        assert not (clips / ".half.mp4.tmp").exists()
        assert (clips / "tampered.mp4").exists()  # evidence is never deleted, even when it does not match
    finally:
        await close_database()


# --- every answer that carries evidence bytes is audited (no camera needed) ---------------------

SIZE = 10_000
DOWNLOAD_FORMS = [
    # (Range, If-Range, status, bytes served): the probe's forms first
    ("bytes=-100000000", None, 206, (0, SIZE)),
    ("BYTES=0-", None, 206, (0, SIZE)),
    ("bytes=00-", None, 206, (0, SIZE)),
    ("bytes=,0-", None, 206, (0, SIZE)),
    (",".join(["bytes=0-0"] + [f"{i}-{i}" for i in range(1, 101)]), None, 200, (0, SIZE)),
    ("bytes=1-", None, 206, (1, SIZE)),
    ("bytes=0-", '"not-the-etag"', 200, (0, SIZE)),
    ("bytes=0-", "Wed, 21 Oct 2015 07:28:00 GMT", 200, (0, SIZE)),
    # and the rest of RFC 9110's cases
    ("bytes=100-199", None, 206, (100, 200)),
    ("bytes=-500", None, 206, (SIZE - 500, SIZE)),
    ("bytes=9999-99999999999999999999999", None, 206, (SIZE - 1, SIZE)),
    ("bytes=0-" + "9" * 5000, None, 206, (0, SIZE)),
    ("bytes = 0-10", None, 200, (0, SIZE)),  # malformed: ignored
    ("bytes=5-1", None, 200, (0, SIZE)),
    ("bytes=a-b", None, 200, (0, SIZE)),
    ("bytes=١-٢", None, 200, (0, SIZE)),  # Arabic-Indic digits are not DIGIT
    ("bytes=0-1,5-6", None, 200, (0, SIZE)),  # several ranges: the whole file rather than multipart
    ("items=0-1", None, 200, (0, SIZE)),
    ("bytes", None, 200, (0, SIZE)),
    ("bytes=", None, 200, (0, SIZE)),
    ("bytes=-", None, 200, (0, SIZE)),
    ("bytes=" + ",".join(["0-1"] * 5000), None, 200, (0, SIZE)),
    (None, None, 200, (0, SIZE)),
]
UNSATISFIABLE = ["bytes=10000-", "bytes=-0", "bytes=" + "9" * 400 + "-"]


async def test_every_answer_with_clip_bytes_is_audited_and_odd_ranges_never_fail(make_deployment):
    from core.testing.app import add_user, running_app, session_headers
    from core.config import load_file

    body = bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256)
    sha = hashlib.sha256(body).hexdigest()
    cfg = load_file(make_deployment().path)
    async with running_app(cfg) as (app, client):
        clips = cfg.deployment.data_path() / "clips"
        clips.mkdir(parents=True, exist_ok=True)
        (clips / "c.mp4").write_bytes(body)
        await EvidenceClip.create(id="e" * 16, camera_id="dcam", agency="dishub", created_by="t", pre_s=1, post_s=1,
                                  file="c.mp4", status="ready", sha256=sha, size=SIZE)
        headers = await session_headers(await add_user("dop", role="operator", agency="dishub"))
        url = f"/api/clips/{'e' * 16}/file"
        served = 0
        for range_, if_range, status, (start, end) in DOWNLOAD_FORMS + [("bytes=0-", f'"{sha}"', 206, (0, SIZE))]:
            extra = {k: v.encode() for k, v in (("Range", range_), ("If-Range", if_range)) if v is not None}
            r = await client.get(url, headers={**headers, **extra})
            assert (r.status_code, r.content) == (status, body[start:end]), (range_, if_range, r.status_code)
            if status == 206:
                assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
            served += 1
            entries = await AuditEntry.filter(action="clip.download").order_by("id")
            assert len(entries) == served, (range_, if_range)  # this answer's entry, not a later one
            part = f"bytes {start}-{end - 1} of {SIZE}" if status == 206 else f"whole file, {SIZE} bytes"
            last = entries[-1]
            assert (last.actor, last.target, last.detail) == ("dop", "e" * 16, f"camera dcam, {part}")
        for range_ in UNSATISFIABLE:
            r = await client.get(url, headers={**headers, "Range": range_})
            assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{SIZE}", range_
            assert "outside the file" in r.json()["error"]
        r = await client.head(url, headers=headers)  # no bytes, no entry
        assert r.status_code == 200 and r.headers["content-length"] == str(SIZE)
        assert await AuditEntry.filter(action="clip.download").count() == served
