"""WHEP live view against a running server and GStreamer's real RTSP server.

An aiortc client (tests/support/whep_client.py) posts real offers and decodes
what it receives. The first tests here need no server: they check the offer
reading and the RTP clock on their own.
"""

from __future__ import annotations

import asyncio
import fractions
import re
import time
from dataclasses import dataclass

import av
import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from support.api_users import make_tokens
from support.appclient import bearer_headers, running
from support.whep_client import PreferringPeer, WhepError, WhepViewer, make_offer, post_offer

from core.app import create_app
from core.config import load_file
from core.media.mux import CameraMux
from core.media.packets import MediaPacket
from core.media.rtc_track import CATCH_UP_STEP, RtpClock
from core.media.transcode import FrameCoder, TranscodeHub, vp8_size
from core.media.whep_sdp import OfferError, read_offer
from core.testing.pytest_plugin import bconnect
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

PASSWORD = "a-long-test-password-1"


# --- offers and clocks, no server ---------------------------------------------


async def _offer(*, codecs: str | None = None, kind: str = "video") -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        if codecs is None:
            return await make_offer(pc) if kind == "video" else await _audio_offer(pc)
        transceiver = pc.addTransceiver("video", direction="recvonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == f"video/{codecs}"])
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def _vp9_only_offer(vp8_offer: str) -> str:
    """An offer with VP9 alone (aiortc cannot make one: it has no VP9): its VP8 offer, relabelled."""
    return vp8_offer.replace("VP8/90000", "VP9/90000")


def vp8_viewer(http: httpx.AsyncClient, camera_id: str) -> WhepViewer:
    """A WHEP viewer that offers VP8 only, as a stock Firefox without OpenH264 (which also offers VP9, AV1)."""
    viewer = WhepViewer(http, camera_id)
    viewer.pc = PreferringPeer("video/vp8")
    return viewer


def _answered_codec(answer: str) -> str:
    """The codec name of the answer's (single) video payload type."""
    pt = re.search(r"^m=video \d+ \S+ (\d+)", answer, re.M).group(1)
    return re.search(rf"^a=rtpmap:{pt} ([\w-]+)/", answer, re.M).group(1)


async def _audio_offer(pc: RTCPeerConnection) -> str:
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def test_offer_answered_with_the_cameras_profile():
    offer = await _offer()  # aiortc offers VP8, and H.264 42001f and 42e01f
    exact = read_offer(offer, "42e01f")
    assert exact.target == "h264"  # H.264 preferred whenever offered: pass-through
    assert exact.exact and exact.codec.parameters["profile-level-id"] == "42e01f"
    assert exact.rtx is not None and exact.rtx.parameters["apt"] == exact.codec.payloadType
    # same profile (Constrained Baseline), another level: the answer names the camera's
    level = read_offer(offer, "42c01e")
    assert not level.exact and level.codec.parameters["profile-level-id"] == "42c01e"
    # a High-profile camera the browser did not offer: the browser's first H.264 label
    high = read_offer(offer, "640028")
    assert not high.exact and high.codec.parameters["profile-level-id"] == "42001f"
    assert high.offer_for_aiortc == offer


async def test_high_profile_camera_labelled_with_an_offered_profile_that_decodes_it():
    # Chromium offers no High (64), but High 4:4:4 Predictive (f4), whose decoders take High
    offer = (await _offer()).replace("profile-level-id=42e01f", "profile-level-id=f4001f")
    choice = read_offer(offer, "640028")
    assert not choice.exact and choice.codec.parameters["profile-level-id"] == "f4001f"


async def test_offer_with_only_high_profile_is_relabelled_for_aiortc_alone():
    offer = (await _offer()).replace("profile-level-id=42001f", "profile-level-id=640028")
    offer = offer.replace("profile-level-id=42e01f", "profile-level-id=64001f")
    choice = read_offer(offer, "640028")
    assert choice.exact and choice.codec.parameters["profile-level-id"] == "640028"
    pt = choice.codec.payloadType
    assert f"a=fmtp:{pt} " in choice.offer_for_aiortc
    assert re.search(rf"a=fmtp:{pt} .*profile-level-id=42e01f", choice.offer_for_aiortc)


async def test_offer_without_h264_is_answered_with_vp8_on_its_payload_type():
    offer = await _offer(codecs="vp8")
    pt = int(re.search(r"^a=rtpmap:(\d+) VP8/90000", offer, re.M).group(1))
    choice = read_offer(offer, "640028")  # whatever the camera sends
    assert choice.target == "vp8"
    assert (choice.codec.mimeType, choice.codec.payloadType, choice.codec.clockRate) == ("video/VP8", pt, 90000)
    assert {(f.type, f.parameter) for f in choice.codec.rtcpFeedback} >= {("nack", None), ("nack", "pli")}
    assert choice.offer_for_aiortc == offer

    # H.264 without packetization-mode=1 is unusable: VP8 it is, with its RTX
    both = await _offer()
    both_pm0 = re.sub(r"packetization-mode=1", "packetization-mode=0", both)
    vp8 = read_offer(both_pm0, "42e01f")
    vp8_pt = int(re.search(r"^a=rtpmap:(\d+) VP8/90000", both, re.M).group(1))
    assert vp8.target == "vp8" and vp8.codec.payloadType == vp8_pt
    assert vp8.rtx is not None and vp8.rtx.parameters["apt"] == vp8_pt
    assert read_offer(both, "42e01f").target == "h264"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: "hello", "malformed SDP"),
        (lambda: "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF x\r\n", "malformed SDP"),
        (lambda: _offer(kind="audio"), "no video m-line"),
        (lambda: _vp9_offer(), r"no H\.264 with packetization-mode=1 and no VP8 for video \(offered: VP9\)"),
    ],
)
async def test_unusable_offers_say_why(make, reason):
    offer = make()
    if asyncio.iscoroutine(offer):
        offer = await offer
    with pytest.raises(OfferError, match=reason):
        read_offer(offer, "42e01f")


async def _vp9_offer() -> str:
    return _vp9_only_offer(await _offer(codecs="vp8"))


def test_vp8_is_scaled_to_at_most_1280_wide_keeping_the_aspect():
    assert vp8_size(1920, 1080) == (1280, 720)
    assert vp8_size(2592, 1944) == (1280, 960)
    assert vp8_size(3840, 1080) == (1280, 360)
    assert vp8_size(640, 360) == (640, 360)
    assert vp8_size(1281, 721) == (1280, 720)


def test_frame_coder_makes_decodable_vp8_from_a_1080p_h264_camera():
    source = av.CodecContext.create("libx264", "w")
    source.width, source.height, source.pix_fmt = 1920, 1080, "yuv420p"
    source.time_base = fractions.Fraction(1, 90_000)
    source.options = {"preset": "ultrafast", "tune": "zerolatency"}
    coder = FrameCoder("vp8", 25.0)
    decoder = av.CodecContext.create("libvpx", "r")
    out: list[MediaPacket] = []
    for i in range(6):
        frame = av.VideoFrame(1920, 1080, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(i * 40) % 256]) * plane.buffer_size)
        frame.pts = i * 3600
        for p in source.encode(frame):
            out += coder.code(MediaPacket(bytes(p), p.pts, p.dts, source.time_base, p.is_keyframe, 0.0, 0), "h264")
    assert out and out[0].keyframe and coder.size == (1280, 720)
    assert [p.pts for p in out] == sorted({p.pts for p in out})  # rising, one packet a frame
    decoded = [f for p in out for f in decoder.decode(av.Packet(p.data))]
    assert len(decoded) == len(out) and (decoded[0].width, decoded[0].height) == (1280, 720)


async def test_transcoder_whose_stream_closed_is_replaced_for_the_next_viewer():
    changes: list[tuple[str, bool]] = []
    hub = TranscodeHub(on_change=lambda camera_id, on: changes.append((camera_id, on)))
    old_mux = CameraMux("cam")
    first = hub.acquire("cam/sub", "vp8", old_mux, camera_id="cam")
    assert changes == [("cam", True)] and hub.running("cam")
    await asyncio.sleep(0.05)  # it subscribed
    assert old_mux.subscriber_count == 1 and not first.finished
    old_mux.close()  # the stream went away under its transcoder
    await asyncio.sleep(0.05)
    assert first.finished
    second = hub.acquire("cam/sub", "vp8", CameraMux("cam"), camera_id="cam")
    assert second is not first and not second.finished
    assert [(t["stream"], t["to"], t["viewers"]) for t in hub.active()] == [("cam/sub", "vp8", 2)]
    await hub.release("cam/sub", "vp8")  # the old viewer leaves
    assert hub.active() and hub.running("cam")
    await hub.release("cam/sub", "vp8")
    assert hub.active() == [] and changes[-1] == ("cam", False)


def _packet(pts: int, generation: int = 0, keyframe: bool = False, arrival: float = 0.0) -> MediaPacket:
    return MediaPacket(b"", pts, pts, fractions.Fraction(1, 90_000), keyframe, arrival, generation)


def test_rtp_clock_is_monotonic_across_reconnects_and_catches_up_on_cache():
    clock = RtpClock()
    out = [clock.stamp(_packet(1000 + i * 3600), catching_up=True, now=0.0) for i in range(3)]
    assert out == [0, CATCH_UP_STEP, 2 * CATCH_UP_STEP]  # the GOP cache goes out at once
    live = [clock.stamp(_packet(1000 + i * 3600), catching_up=False, now=0.1 + i * 0.04) for i in range(3, 6)]
    assert [b - a for a, b in zip([out[-1], *live], live)] == [3600, 3600, 3600]  # real spacing
    # the camera restarts: a new generation whose clock starts again from zero
    after = clock.stamp(_packet(0, generation=1, keyframe=True), catching_up=False, now=2.2)
    assert after > live[-1] and after - live[-1] == pytest.approx((2.2 - 0.3) * 90_000, rel=0.01)  # the wall-clock gap
    nxt = clock.stamp(_packet(3600, generation=1), catching_up=False, now=2.24)
    assert nxt - after == 3600
    # a jump backwards within one generation is a discontinuity, still monotonic
    back = clock.stamp(_packet(0, generation=1), catching_up=False, now=2.28)
    assert back > nxt


# --- against a running server ---------------------------------------------------


@dataclass
class Live:
    url: str
    headers: dict[str, str]
    rtsp: object
    deployment: object

    def client(self, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=kwargs.pop("headers", self.headers), timeout=20, **kwargs)


def _cameras_toml(rtsp, cameras: dict[str, str]) -> str:
    out = "[plugins.stream_url]\n"
    for cid, mount in cameras.items():
        out += (
            f'[[plugins.stream_url.cameras]]\nid = "{cid}"\nname = "{cid.upper()}"\n'
            f'url = "{rtsp.url(mount)}"\nagency = "dishub"\narea = "beruang_madu"\n'
        )
    return out


@pytest.fixture
def live(make_deployment, start_server, rtsp_server):  # noqa: F811
    """``live(cam_id=mount, ..., per_camera=16, total=64)``: a server with an admin's token."""

    def make(per_camera: int = 16, total: int = 64, **cameras: str) -> Live:
        dep = make_deployment(_cameras_toml(rtsp_server, cameras))
        text = dep.path.read_text().replace(
            "secure_cookies = false",
            f"secure_cookies = false\nmax_viewers_per_camera = {per_camera}\nmax_viewers_total = {total}",
        )
        dep.path.write_text(text)
        config = ["--config", str(dep.path)]
        added = bconnect("users", "add", "ops", "--role", "admin", "--agency", "pemkot", "--password-stdin",
                         *config, stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        token = bconnect("users", "token", "ops", "--name", "whep-test", *config)
        assert token.returncode == 0, token.stderr
        server = start_server(dep)
        return Live(server.url, {"Authorization": f"Bearer {token.stdout.strip()}"}, rtsp_server, dep)

    return make


async def wait_state(http: httpx.AsyncClient, camera_id: str, states: tuple[str, ...], timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = (await http.get(f"/api/cameras/{camera_id}")).json()
        if body["status"]["state"] in states:
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"camera {camera_id} stayed {body['status']} (wanted {states})")
        await asyncio.sleep(0.2)


async def wait_sessions(http: httpx.AsyncClient, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (n := (await http.get("/api/webrtc")).json()["sessions"]) != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} WHEP sessions, wanted {count}")
        await asyncio.sleep(0.1)


async def test_viewer_decodes_the_camera_from_its_gop_cache_and_delete_ends_it(live):
    srv = live(cam="h264_gop4")  # a keyframe every 4 s: only the GOP cache makes the first frame quick
    async with srv.client() as http:
        camera = await wait_state(http, "cam", ("online",))
        await asyncio.sleep(1.0)  # be mid-GOP, not at a keyframe
        viewer = WhepViewer(http, "cam")
        await viewer.connect()
        try:
            assert re.fullmatch(r"/api/cameras/cam/whep/[\w-]+", viewer.location)
            plid = camera["stream"]["profile_level_id"]
            assert re.search(rf"a=fmtp:\d+ .*profile-level-id={plid}", viewer.answer), viewer.answer
            assert "a=candidate:" in viewer.answer  # complete answer, no trickle
            await viewer.wait_frames(20)
            assert (viewer.width, viewer.height) == (640, 360)
            assert viewer.ttff < 1.2, f"first frame after {viewer.ttff:.2f} s"

            overview = (await http.get("/api/webrtc")).json()
            assert overview["sessions"] == 1 and overview["list"][0]["camera_id"] == "cam"
            assert overview["list"][0]["packets_sent"] > 20

            patch = await http.patch(viewer.location, content=b"a=candidate:x", headers={"Content-Type": "application/trickle-ice-sdpfrag"})
            assert patch.status_code == 405 and "trickle" in patch.json()["error"]

            deleted = await viewer.delete()
            assert deleted.status_code == 200
            assert (await http.get("/api/webrtc")).json()["sessions"] == 0
            assert (await viewer.delete()).status_code == 404
            await asyncio.sleep(1.0)
            frames = viewer.frames
            await asyncio.sleep(1.5)
            assert viewer.frames == frames, "frames still arrive after DELETE"
            health = (await http.get("/api/cameras/cam")).json()
            assert health["status"]["state"] == "online"
        finally:
            viewer.location = None
            await viewer.close()


async def test_keyframe_request_is_answered_from_the_gop_cache(live):
    """A viewer's PLI brings a decodable keyframe within a round trip, not at the camera's next keyframe."""
    srv = live(cam="h264_gop4")  # the camera's keyframes are 4 s apart
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        viewer = WhepViewer(http, "cam")
        await viewer.connect()
        try:
            deadline = time.monotonic() + 10
            while len(viewer.keyframes_at) < 2:  # the cached one, then the camera's own
                assert time.monotonic() < deadline, "no live keyframe from the camera"
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # mid-GOP: the camera's next keyframe is about 3 s away
            before = len(viewer.keyframes_at)
            ssrc = int(re.search(r"a=ssrc:(\d+) ", viewer.answer).group(1))
            asked = time.monotonic()
            await viewer.pc.getReceivers()[0]._send_rtcp_pli(ssrc)
            while len(viewer.keyframes_at) == before:
                assert time.monotonic() - asked < 1.5, "no keyframe after the PLI"
                await asyncio.sleep(0.02)
            assert viewer.keyframes_at[-1] - asked < 1.0
            await viewer.pc.getReceivers()[0]._send_rtcp_pli(ssrc)  # a browser repeats its request
            await asyncio.sleep(0.3)
            session = (await http.get("/api/webrtc")).json()["list"][0]
            assert session["keyframe_requests"] >= 2 and session["gop_replays"] == 1  # one replay a second at most
            await viewer.wait_frames(10)  # and the live picture goes on
        finally:
            await viewer.close()


async def test_refusals_say_why(live):
    srv = live(cam="h264")
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        offer = await _offer()

        r = await post_offer(http, "cam", "v=0\r\nthis is not sdp")
        assert r.status_code == 400 and "malformed SDP" in r.json()["error"]
        r = await post_offer(http, "cam", await _offer(kind="audio"))
        assert r.status_code == 400 and "no video" in r.json()["error"]
        r = await post_offer(http, "cam", await _vp9_offer())  # neither H.264 nor VP8
        assert r.status_code == 400 and "no H.264" in r.json()["error"] and "no VP8" in r.json()["error"]
        assert "offered: VP9" in r.json()["error"]
        r = await http.post("/api/cameras/cam/whep", content=offer.encode(), headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and "application/sdp" in r.json()["error"]
        r = await post_offer(http, "cam", offer + "a=x-padding:" + "x" * 70_000 + "\r\n")
        assert r.status_code == 413 and "SDP offer is larger than" in r.json()["error"]
        r = await post_offer(http, "nosuchcam", offer)
        assert r.status_code == 404 and "nosuchcam" in r.json()["error"]
        assert (await http.delete("/api/cameras/cam/whep/nosuchsession")).status_code == 404
        assert (await http.get("/api/webrtc")).json()["sessions"] == 0

    async with srv.client(headers={}) as anonymous:
        r = await post_offer(anonymous, "cam", offer)
        assert r.status_code == 401


async def test_start_live_skips_the_gop_cache_and_waits_for_the_next_keyframe(live):
    srv = live(cam="h264_gop4")  # a keyframe every 4 s
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        r = await post_offer(http, "cam", await _offer(), params={"start": "later"})
        assert r.status_code == 400 and "start must be one of gop, live" in r.json()["error"]

        watcher = WhepViewer(http, "cam")  # tells the test when the camera's keyframes come
        await watcher.connect()
        viewers: list[WhepViewer] = [watcher]
        try:
            await watcher.wait_frames(1)
            deadline = time.monotonic() + 10
            while len(watcher.keyframes_at) < 2:  # the first is the cached one; wait for a live one
                assert time.monotonic() < deadline, "no live keyframe within 10 s"
                await asyncio.sleep(0.02)
            # just after a keyframe: the next is ~4 s away, the GOP cache holds ~1 frame
            live_viewer, cached_viewer = WhepViewer(http, "cam", start="live"), WhepViewer(http, "cam", start="gop")
            viewers += [live_viewer, cached_viewer]
            await asyncio.gather(live_viewer.connect(), cached_viewer.connect())
            await asyncio.gather(live_viewer.wait_frames(1, timeout=8), cached_viewer.wait_frames(1))
            assert cached_viewer.ttff < 1.5, f"GOP cache viewer's first frame after {cached_viewer.ttff:.2f} s"
            assert live_viewer.ttff > 2.5, f"start=live viewer's first frame after {live_viewer.ttff:.2f} s"
            assert live_viewer.keyframes_at[0] == live_viewer.first_frame_at  # it started on a keyframe
        finally:
            for v in viewers:
                await v.close()


async def test_viewer_limits_per_camera_and_in_total(live):
    srv = live(per_camera=1, total=2, a="h264", b="h264_gop1", c="h264_gop4")
    async with srv.client() as http:
        for cid in "abc":
            await wait_state(http, cid, ("online",))
        first = WhepViewer(http, "a")
        await first.connect()
        viewers = [first]
        try:
            with pytest.raises(WhepError) as refused:
                await WhepViewer(http, "a").connect()
            assert refused.value.response.status_code == 503
            assert "1 viewers of camera 'a'" in refused.value.response.json()["error"]

            second = WhepViewer(http, "b")
            await second.connect()
            viewers.append(second)
            with pytest.raises(WhepError) as refused:
                await WhepViewer(http, "c").connect()
            assert refused.value.response.status_code == 503
            assert "2 viewers in total" in refused.value.response.json()["error"]

            # a slot frees when the browser closes its peer connection without a DELETE
            await second.wait_frames(3)  # connected: DTLS says goodbye on close
            await second.pc.close()
            await wait_sessions(http, 1)
            third = WhepViewer(http, "c")
            await third.connect()
            viewers.append(third)

            # and on DELETE
            assert (await first.delete()).status_code == 200
            first.location = None
            again = WhepViewer(http, "a")
            await again.connect()
            viewers.append(again)
            await again.wait_frames(5)
        finally:
            for v in viewers:
                await v.close()


async def test_viewer_gets_frames_again_after_the_camera_restarts(live):
    srv = live(cam="h264_gop1")
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        viewer = WhepViewer(http, "cam")
        await viewer.connect()
        try:
            await viewer.wait_frames(10)
            srv.rtsp.stop()
            await wait_state(http, "cam", ("reconnecting", "offline"))
            await asyncio.sleep(0.5)
            frames = viewer.frames
            srv.rtsp.start()
            await wait_state(http, "cam", ("online",), timeout=40)
            await viewer.wait_frames(25, timeout=20)
            assert viewer.frames >= frames + 25
            assert viewer.pc.connectionState == "connected"  # the same session, no new offer
            assert (viewer.width, viewer.height) == (640, 360)
            assert (await http.get("/api/webrtc")).json()["sessions"] == 1
        finally:
            await viewer.close()


def _transcoders(overview: dict) -> list[tuple[str, str, str, int]]:
    return [(t["stream"], t["from"], t["to"], t["viewers"]) for t in overview["transcoding"]]


async def test_h265_camera_is_transcoded_once_for_all_its_viewers(live):
    srv = live(cam="h265")
    async with srv.client() as http:
        camera = await wait_state(http, "cam", ("online",))
        assert camera["stream"]["codec"] == "hevc" and camera["status"]["transcoding"] is False
        viewers = [WhepViewer(http, "cam"), WhepViewer(http, "cam")]
        try:
            for v in viewers:
                await v.connect()
                assert "H264/90000" in v.answer
            for v in viewers:
                await v.wait_frames(15)
                assert (v.width, v.height) == (640, 360)
            camera = (await http.get("/api/cameras/cam")).json()
            assert camera["status"]["transcoding"] is True
            assert _transcoders((await http.get("/api/webrtc")).json()) == [("cam", "hevc", "h264", 2)]
            # one transcoder reads the camera, not one per viewer
            health = (await http.get("/api/health")).json()["cameras"]["cam"]
            assert health["subscribers"] == 1

            # a browser without H.264 gets VP8 from a second transcoder of the same camera
            firefox = vp8_viewer(http, "cam")
            viewers.append(firefox)
            await firefox.connect()
            assert _answered_codec(firefox.answer) == "VP8"
            await firefox.wait_frames(15)
            assert (firefox.width, firefox.height) == (640, 360)
            assert _transcoders((await http.get("/api/webrtc")).json()) == [
                ("cam", "hevc", "h264", 2), ("cam", "hevc", "vp8", 1)
            ]
            # the camera shows transcoding while any of its transcoders runs
            for v in viewers[:2]:
                await v.close()
            viewers = [firefox]
            overview = (await http.get("/api/webrtc")).json()
            assert _transcoders(overview) == [("cam", "hevc", "vp8", 1)]
            assert (await http.get("/api/cameras/cam")).json()["status"]["transcoding"] is True

            await firefox.close()
            viewers = []
            camera = (await http.get("/api/cameras/cam")).json()
            assert camera["status"]["transcoding"] is False
            assert (await http.get("/api/webrtc")).json()["transcoding"] == []
        finally:
            for v in viewers:
                await v.close()


@pytest.fixture
def two_agencies(make_deployment, start_server, rtsp_server):  # noqa: F811
    """A Dishub and a Polri camera, and users of four kinds: ``(server url, {username: token})``."""
    cameras = "[plugins.stream_url]\n"
    for cid, agency, mount in (("dcam", "dishub", "h264_gop1"), ("pcam", "polri", "h264_gop4")):
        cameras += (f'[[plugins.stream_url.cameras]]\nid = "{cid}"\nname = "{cid}"\n'
                    f'url = "{rtsp_server.url(mount)}"\nagency = "{agency}"\n')
    dep = make_deployment(cameras)
    tokens = make_tokens(dep.path, [
        ("boss", "admin", "pemkot"),
        ("dop", "operator", "dishub"),  # watches dishub and pemkot cameras
        ("pop", "operator", "polri"),  # watches dishub, polri and pemkot cameras
        ("jaksa", "operator", "kejaksaan"),  # the prosecutor's office: no cameras at all
        ("pros", "prosecutor", "kejaksaan"),
    ])
    return start_server(dep).url, tokens


async def test_the_session_overview_shows_only_watchable_cameras_and_names_viewers_to_admins(two_agencies):
    url, tokens = two_agencies

    def client(user: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=20)

    async with client("boss") as admin:
        for cid in ("dcam", "pcam"):
            await wait_state(admin, cid, ("online",))
        viewers = [WhepViewer(admin, "dcam"), vp8_viewer(admin, "pcam")]  # the second one runs a transcoder
        try:
            for viewer in viewers:
                await viewer.connect()
            full = (await admin.get("/api/webrtc")).json()
            assert full["sessions"] == 2 and {s["user"] for s in full["list"]} == {"boss"}
            assert [t["camera_id"] for t in full["transcoding"]] == ["pcam"]

            expected = {"dop": ["dcam"], "pop": ["dcam", "pcam"], "jaksa": []}
            for user, cameras in expected.items():
                async with client(user) as http:
                    seen = (await http.get("/api/webrtc")).json()
                assert sorted(s["camera_id"] for s in seen["list"]) == cameras, user
                assert all("user" not in s for s in seen["list"]), user
                assert seen["sessions"] == len(cameras) and sorted(seen["per_camera"]) == cameras, user
                assert [t["camera_id"] for t in seen["transcoding"]] == [c for c in cameras if c == "pcam"], user
            async with client("pros") as http:
                assert (await http.get("/api/webrtc")).status_code == 403  # operators and admins only
        finally:
            for viewer in viewers:
                await viewer.close()


async def test_browser_without_h264_gets_vp8_from_one_shared_transcoder(live):
    """Stock Firefox without OpenH264 offers no H.264: VP8, transcoded once per camera for all such viewers."""
    srv = live(cam="h264")
    async with srv.client() as http:
        camera = await wait_state(http, "cam", ("online",))
        assert camera["stream"]["codec"] == "h264"
        viewers = [vp8_viewer(http, "cam"), vp8_viewer(http, "cam")]
        try:
            for v in viewers:
                await v.connect()
                offered_pt = re.search(r"^a=rtpmap:(\d+) VP8/90000", v.answer, re.M).group(1)
                assert _answered_codec(v.answer) == "VP8" and "H264" not in v.answer
                assert re.search(rf"^m=video \d+ \S+ {offered_pt}\b", v.answer, re.M), v.answer
            for v in viewers:
                await v.wait_frames(20)
                assert (v.width, v.height) == (640, 360)
            assert viewers[0].ttff < 2.0, f"first VP8 frame after {viewers[0].ttff:.2f} s"

            overview = (await http.get("/api/webrtc")).json()
            assert _transcoders(overview) == [("cam", "h264", "vp8", 2)]  # ONE transcoder for both
            assert overview["transcoding"][0]["frames_out"] > 20
            assert [(s["codec"], s["transcoded"]) for s in overview["list"]] == [("vp8", True)] * 2
            assert (await http.get("/api/cameras/cam")).json()["status"]["transcoding"] is True
            health = (await http.get("/api/health")).json()["cameras"]["cam"]
            assert health["subscribers"] == 1  # the transcoder, not the viewers

            # an H.264 browser beside them still gets the camera's own packets
            chromium = WhepViewer(http, "cam")
            viewers.append(chromium)
            await chromium.connect()
            assert _answered_codec(chromium.answer) == "H264"
            await chromium.wait_frames(10)
            overview = (await http.get("/api/webrtc")).json()
            assert _transcoders(overview) == [("cam", "h264", "vp8", 2)]
            assert sorted((s["codec"], s["transcoded"]) for s in overview["list"]) == [
                ("h264", False), ("vp8", True), ("vp8", True)
            ]

            await viewers[0].close()
            assert _transcoders((await http.get("/api/webrtc")).json()) == [("cam", "h264", "vp8", 1)]
            await viewers[1].wait_frames(10)  # the other VP8 viewer plays on
            await viewers[1].close()
            # stopped after its last VP8 viewer left
            assert (await http.get("/api/webrtc")).json()["transcoding"] == []
            assert (await http.get("/api/cameras/cam")).json()["status"]["transcoding"] is False
            await chromium.wait_frames(5)
            viewers = [chromium]
        finally:
            for v in viewers:
                await v.close()


async def test_shutdown_closes_every_peer_connection(make_deployment, rtsp_server):  # noqa: F811
    dep = make_deployment(_cameras_toml(rtsp_server, {"cam": "h264_gop1"}))
    app = create_app(load_file(dep.path))
    async with running(app) as http:
        headers = await bearer_headers()
        http.headers.update(headers)
        await wait_state(http, "cam", ("online",))
        viewer = WhepViewer(http, "cam")
        await viewer.connect()
        await viewer.wait_frames(5)
        whep = app.state.services.plugins.pm.get_plugin("core.WebRtcPlugin").whep
        (session,) = whep.sessions.values()
    assert not whep.sessions
    assert session.pc.connectionState == "closed"
    deadline = time.monotonic() + 10
    while viewer.pc.connectionState not in ("closed", "failed"):
        assert time.monotonic() < deadline, f"client still {viewer.pc.connectionState}"
        await asyncio.sleep(0.1)
    viewer.location = None
    await viewer.close()


def test_end_of_candidates_is_dropped_so_unresolvable_mdns_candidates_do_not_empty_the_answer():
    from core.media.whep import _END_OF_CANDIDATES

    offer = (
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:0 1 UDP 2122252543 2f0e3c1a-8b1c-4c5e-9d6e-1a2b3c4d5e6f.local 52311 typ host\r\n"
        "a=end-of-candidates\r\na=rtpmap:96 H264/90000\r\n"
    )
    cleaned = _END_OF_CANDIDATES.sub("", offer)
    assert "end-of-candidates" not in cleaned
    assert cleaned == offer.replace("a=end-of-candidates\r\n", "")  # nothing else touched
