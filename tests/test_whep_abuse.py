"""What one hostile WHEP viewer can do to everyone else, against a running server.

Found by a probe (issue 11): one user's 80 offers, never connected, took every
slot for 20 s; offers with hundreds of m-lines blocked the event loop; odd but
legal offers answered 500 with aiortc's exception names; candidates made the
server send STUN anywhere. The first tests need no server: they check the
screening of an offer (``core.media.whep_guard``) on its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from support.whep_client import WhepViewer, make_offer, post_offer
from test_whep import _cameras_toml, wait_sessions, wait_state

from core.media.whep_guard import OfferLimits, screen_offer
from core.media.whep_sdp import OfferError
from core.testing.pytest_plugin import bconnect
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

PASSWORD = "a-long-test-password-1"
INTERNAL = re.compile(r"Error|Exception|StopIteration|KeyError|not in list|NoneType")


async def offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        return await make_offer(pc)
    finally:
        await pc.close()


def video_section(sdp: str) -> str:
    return sdp[sdp.index("m=video") :]


def many_m_lines(sdp: str, count: int) -> str:
    m = video_section(sdp)
    return sdp + "".join(m.replace("a=mid:0", f"a=mid:{i}") for i in range(1, count))


# --- screening an offer, no server ------------------------------------------------


async def test_offers_a_viewer_does_not_need_are_refused_before_parsing():
    sdp = await offer()
    limits = OfferLimits()
    assert screen_offer(sdp, limits).dropped_candidates == 0
    cases = {
        "SDP offer has 5 m-lines; a viewer needs at most 4": many_m_lines(sdp, 5),
        "SDP offer is larger than 32768 bytes": sdp + "a=x-pad:" + "x" * 33_000 + "\r\n",
        "two m-lines share mid '0'": sdp + video_section(sdp),
        "a=setup must be one of actpass, active, passive": sdp.replace("a=setup:actpass", "a=setup:bogus"),
        "malformed a=candidate": sdp.replace("a=mid:0", "a=mid:0\r\na=candidate:1 1 udp x 192.0.2.9 9 typ host"),
        "candidates; at most 32 are taken": sdp.replace(
            "a=mid:0", "a=mid:0\r\n" + "\r\n".join(f"a=candidate:{i} 1 udp 1 192.0.2.9 {i + 1} typ host" for i in range(33))
        ),
    }
    for reason, text in cases.items():
        with pytest.raises(OfferError) as exc:
            screen_offer(text, limits)
        assert reason in str(exc.value), (reason, str(exc.value))
        assert not INTERNAL.search(str(exc.value))
    # the probe's offer: 457 video m-lines in 64 KB, refused by a line count
    huge = many_m_lines(sdp, 457)
    started = time.perf_counter()
    with pytest.raises(OfferError, match="457 m-lines"):
        screen_offer(huge, OfferLimits(max_bytes=len(huge)))
    assert time.perf_counter() - started < 0.05


async def test_a_missing_or_unknown_direction_means_sendrecv():
    sdp = await offer()
    for text in (sdp.replace("a=recvonly\r\n", ""), sdp.replace("a=recvonly", "a=bogus")):
        screened = screen_offer(text, OfferLimits()).offer
        assert "\r\na=sendrecv\r\n" in video_section(screened)
    # a session-level direction applies to an m-line that names none
    session = sdp.replace("a=recvonly\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n")
    assert video_section(screen_offer(session, OfferLimits()).offer).count("a=recvonly") == 1


async def test_candidates_the_server_will_not_contact_are_dropped():
    sdp = await offer()
    names = ["224.0.0.251", "0.0.0.0", "255.255.255.255", "169.254.1.1", "ff02::1", "camera.example.com",
             "10.1.2.3", "203.0.113.7", "4a3c1e6e-9f6b-4b9c-8d2e-2f7c1c1f0a11.local", "127.0.0.1"]
    lines = "\r\n".join(f"a=candidate:{i} 1 udp 1 {name} 9 typ host" for i, name in enumerate(names))
    text = re.sub(r"^a=candidate:.*\r\n", "", sdp, flags=re.M).replace("a=mid:0", "a=mid:0\r\n" + lines)

    def kept(limits: OfferLimits) -> set[str]:
        return set(re.findall(r"^a=candidate:\S+ 1 udp 1 (\S+) ", screen_offer(text, limits).offer, re.M))

    # by default: any unicast address and a browser's mDNS name; never multicast, broadcast,
    # unspecified, link-local, nor a DNS name (the server would resolve it)
    assert kept(OfferLimits()) == {"10.1.2.3", "203.0.113.7", "127.0.0.1", "4a3c1e6e-9f6b-4b9c-8d2e-2f7c1c1f0a11.local"}
    # with [webrtc] viewer_networks: those networks only (no mDNS name: it could be anything)
    assert kept(OfferLimits(networks=(ipaddress.ip_network("10.0.0.0/8"),))) == {"10.1.2.3"}


# --- against a running server -------------------------------------------------------


class Server:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    def client(self, user: str = "ops") -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[user]}"}, timeout=20)


@pytest.fixture
def abuse_server(make_deployment, start_server, rtsp_server):  # noqa: F811
    """``abuse_server(webrtc_toml)``: one camera, users ops (admin) and ana, bob (viewers of Dishub)."""

    def make(webrtc: str = "", per_camera: int = 64, total: int = 64) -> Server:
        dep = make_deployment(_cameras_toml(rtsp_server, {"cam": "h264"}) + "\n[webrtc]\n" + webrtc)
        text = dep.path.read_text().replace(
            "secure_cookies = false",
            f"secure_cookies = false\nmax_viewers_per_camera = {per_camera}\nmax_viewers_total = {total}",
        )
        dep.path.write_text(text)
        config = ["--config", str(dep.path)]
        tokens = {}
        for user, role, agency in (("ops", "admin", "pemkot"), ("ana", "viewer", "dishub"), ("bob", "viewer", "dishub")):
            added = bconnect("users", "add", user, "--role", role, "--agency", agency, "--password-stdin", *config,
                             stdin=PASSWORD + "\n")
            assert added.returncode == 0, added.stderr
            token = bconnect("users", "token", user, "--name", "abuse-test", *config)
            assert token.returncode == 0, token.stderr
            tokens[user] = token.stdout.strip()
        server = start_server(dep)
        return Server(server.url, tokens)

    return make


async def test_one_user_cannot_take_every_slot_and_unconnected_sessions_free_theirs(abuse_server):
    srv = abuse_server("max_sessions_per_user = 4\nconnect_timeout_s = 2.0\n", per_camera=8, total=8)
    async with srv.client("ana") as ana, srv.client("bob") as bob, srv.client() as ops:
        await wait_state(ops, "cam", ("online",))
        sdp = await offer()  # posted and never connected, as the probe did
        answers = await asyncio.gather(*(post_offer(ana, "cam", sdp) for _ in range(12)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] * 4 + [429] * 8, codes
        refused = next(r for r in answers if r.status_code == 429)
        assert "4 live views per user" in refused.json()["error"] and refused.headers["retry-after"] == "1"
        # refused before any work for them: no sub stream is opened (this camera has none: that would be a 400)
        assert (await post_offer(ana, "cam", sdp, params={"stream": "sub"})).status_code == 429

        viewer = WhepViewer(bob, "cam")  # everyone else still gets in, and sees the camera
        await viewer.connect()
        try:
            await viewer.wait_frames(5)
            # ana's answered offers never connected: their slots free after connect_timeout_s
            started = time.monotonic()
            await wait_sessions(ops, 1, timeout=6)
            assert time.monotonic() - started < 4.5
            assert viewer.pc.connectionState == "connected"  # the connected viewer stays
            assert (await post_offer(ana, "cam", sdp)).status_code == 201
        finally:
            await viewer.close()


async def test_hostile_offers_are_400_with_our_reason_and_do_not_block_the_loop(abuse_server):
    srv = abuse_server()
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        sdp = await offer()
        for text, reason in (
            (sdp + video_section(sdp), "two m-lines share mid '0'"),
            (sdp.replace("a=setup:actpass", "a=setup:bogus"), "a=setup must be one of"),
            (many_m_lines(sdp, 8), "8 m-lines; a viewer needs at most 4"),
            (re.sub(r"a=rtpmap:(\d+) H264/90000", r"a=rtpmap:\1 H264", sdp, count=1), "malformed SDP"),
        ):
            r = await post_offer(http, "cam", text)
            assert r.status_code == 400 and reason in r.json()["error"], (reason, r.status_code, r.text)
            assert not INTERNAL.search(r.json()["error"]), r.text

        # the RFC's default direction (sendrecv) and an unknown one are answered, sending only
        for text in (sdp.replace("a=recvonly\r\n", ""), sdp.replace("a=recvonly", "a=bogus")):
            r = await post_offer(http, "cam", text)
            assert r.status_code == 201, r.text
            assert "a=sendonly" in r.text
            assert (await http.delete(r.headers["location"])).status_code == 200

        # the probe's 64 KB offers with 457 m-lines, while the health check is timed
        huge = many_m_lines(sdp, 457)[: 64 * 1024]
        stop, delays = asyncio.Event(), []

        async def probe_health():
            while not stop.is_set():
                started = time.perf_counter()
                await http.get("/api/health")
                delays.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        prober = asyncio.create_task(probe_health())
        answers = await asyncio.gather(*(post_offer(http, "cam", huge) for _ in range(10)))
        stop.set()
        await prober
        assert {r.status_code for r in answers} == {413}, answers[0].text  # larger than max_offer_bytes
        answers = await asyncio.gather(*(post_offer(http, "cam", many_m_lines(sdp, 10)) for _ in range(10)))
        assert {r.status_code for r in answers} == {400}
        assert max(delays) < 0.5, delays
        assert (await http.get("/api/webrtc")).json()["sessions"] == 0


async def test_a_viewer_outside_viewer_networks_still_connects_through_its_own_checks(abuse_server):
    # every candidate of the test client is dropped: the server contacts none of them,
    # and the client's checks reach the server as peer-reflexive candidates
    srv = abuse_server('viewer_networks = ["203.0.113.0/24"]\n')
    async with srv.client() as http:
        await wait_state(http, "cam", ("online",))
        viewer = WhepViewer(http, "cam")
        await viewer.connect()
        try:
            await viewer.wait_frames(5)
        finally:
            await viewer.close()
