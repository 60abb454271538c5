"""The live view in Debian's firefox-esr, driven over WebDriver BiDi (support.firefox).

What Firefox 153 ESR does here, without internet:

* H.264. Firefox offers H.264 in WebRTC only with an H.264 encoder and
  decoder: Cisco's OpenH264 plugin, which a stock Firefox downloads on first
  run, or "hardware" H.264. Neither exists here (nor, perhaps, on a control
  centre's closed network), so a stock profile offers VP8, VP9 and AV1 only.
  The server answers such an offer with VP8 from a transcoder shared by all
  such viewers of the camera; the stock-Firefox test plays through it and the
  tile says it is transcoded. The platform path opens with three prefs (a
  deployment can set them by enterprise policy): the graphics blocklist's
  verdict for WebRTC H.264 set to "allowed", ``media.webrtc.hw.h264.enabled``,
  and ``media.navigator.mediadatadecoder_h264_enabled``; Firefox then offers
  H.264, decodes it with the system's libavcodec, and gets the camera's own
  packets.
* ICE. Firefox hides its addresses behind mDNS names and ends its offer with
  ``a=end-of-candidates``. The server cannot resolve those names (here; and
  across routed networks), so it drops ``a=end-of-candidates`` before aiortc
  reads the offer (else aioice prunes every ICE component and the answer has
  no candidate); Firefox's checks then arrive as peer-reflexive candidates.
  Both Firefox's default (mDNS) and real-address candidates play.
* A browser with neither H.264 nor VP8 gets a 400; the tile shows the reason
  and does not retry (the same offer would be refused again). Firefox is made
  to offer VP9 alone with a preload script (setCodecPreferences).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.browser import GENERATED, wait_frames
from support.firefox import FIREFOX, Firefox, launch_firefox

from core.testing.pytest_plugin import bconnect
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.rtsp,
    pytest.mark.skipif(not Path(FIREFOX).exists(), reason=f"{FIREFOX} missing: run scripts/setup.sh (firefox-esr)"),
]

PASSWORD = "a-long-test-password-1"
PLATFORM_H264_PREFS = {
    "gfx.blacklist.webrtc.hw.acceleration.h264": 1,  # nsIGfxInfo.FEATURE_STATUS_OK
    "media.webrtc.hw.h264.enabled": True,
    "media.navigator.mediadatadecoder_h264_enabled": True,
}
REAL_ADDRESSES = {"media.peerconnection.ice.obfuscate_host_addresses": False}

OFFERED_VIDEO_CODECS = """(async () => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  const offer = await pc.createOffer();
  pc.close();
  return offer.sdp.split("\\r\\n").filter((l) => l.startsWith("a=rtpmap:")).map((l) => l.split(" ")[1].split("/")[0]);
})()"""

TILE_MESSAGE = """(() => {
  const m = document.querySelector('.tile[data-camera="gate"] .tile-message');
  return m && !m.hidden && m.textContent.includes("H.264") ? m.textContent : "";
})()"""
BADGE = "document.querySelector('.tile[data-camera=\"gate\"] .badge').textContent"

# Every transceiver the page adds offers VP9 alone: a browser with neither H.264 nor VP8.
OFFER_VP9_ONLY = """() => {
  const add = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (...args) {
    const transceiver = add.apply(this, args);
    const vp9 = RTCRtpReceiver.getCapabilities("video").codecs.filter((c) => c.mimeType === "video/VP9");
    transceiver.setCodecPreferences(vp9);
    return transceiver;
  };
}"""


def one_camera(make_deployment, start_server, url: str):
    dep = make_deployment(
        f"""
        [plugins.stream_url]
        [[plugins.stream_url.cameras]]
        id = "gate"
        name = "Gerbang Beruang Madu"
        url = "{url}"
        agency = "dishub"
        area = "beruang_madu"
        """
    )
    added = bconnect("users", "add", "operator1", "--role", "operator", "--agency", "dishub", "--password-stdin",
                     "--config", str(dep.path), stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    return start_server(dep)


async def log_in(ff: Firefox, base_url: str) -> None:
    """Through the login page with real key presses and a click, as a person would."""
    assert "/login" in await ff.goto(base_url + "/")
    await ff.type("#username", "operator1")
    await ff.type("#password", PASSWORD)
    await ff.click("button[type=submit]")
    await ff.wait_for("location.pathname === '/static/index.html'")
    await ff.wait_for("document.querySelector('.tile[data-camera=\"gate\"]') !== null")
    assert await ff.evaluate("document.querySelector('#user-name').textContent") == "operator1 · Dishub"


@pytest.mark.parametrize("candidates", ["mdns", "addresses"])
async def test_firefox_plays_the_camera_through_platform_h264(
    make_deployment, start_server, rtsp_server, candidates  # noqa: F811
):
    server = one_camera(make_deployment, start_server, rtsp_server.url("h264_gop1"))
    prefs = {**PLATFORM_H264_PREFS, **(REAL_ADDRESSES if candidates == "addresses" else {})}
    async with launch_firefox(prefs) as ff:
        await ff.set_viewport(1400, 860)
        await log_in(ff, server.url)
        # on one machine ICE connects within a second once the server answers
        await ff.wait_for("window.bconnect.peers().some((p) => p.pc.connectionState === 'connected')", timeout=12)
        first = await wait_frames(ff.call, "gate", 0, timeout=15)
        grown = await wait_frames(ff.call, "gate", first["framesDecoded"] + 10, timeout=15)
        assert (grown["frameWidth"], grown["frameHeight"]) == (640, 360)
        assert await ff.evaluate("document.querySelector('.tile[data-camera=\"gate\"] video').videoWidth") == 640
        GENERATED.mkdir(exist_ok=True)
        await ff.screenshot(GENERATED / "grid-firefox.png")
        assert not ff.errors, ff.errors


async def api_json(ff: Firefox, path: str) -> dict:
    """GET ``path`` from the page, with the operator's session cookie."""
    return await ff.call("async (path) => (await fetch(path, { credentials: 'same-origin' })).json()", path)


async def test_stock_firefox_plays_the_camera_through_a_shared_vp8_transcode(
    make_deployment, start_server, rtsp_server  # noqa: F811
):
    server = one_camera(make_deployment, start_server, rtsp_server.url("h264_gop1"))
    async with launch_firefox() as ff:
        await ff.goto("about:blank")
        offered = await ff.evaluate(OFFERED_VIDEO_CODECS)
        assert "VP8" in offered and "H264" not in offered, offered  # no OpenH264 plugin: no H.264 at all

        await ff.set_viewport(1400, 860)
        await log_in(ff, server.url)
        await ff.wait_for("window.bconnect.peers().some((p) => p.pc.connectionState === 'connected')", timeout=12)
        first = await wait_frames(ff.call, "gate", 0, timeout=15)
        grown = await wait_frames(ff.call, "gate", first["framesDecoded"] + 10, timeout=15)
        assert (grown["frameWidth"], grown["frameHeight"]) == (640, 360)
        assert await ff.evaluate("document.querySelector('.tile[data-camera=\"gate\"] video').videoWidth") == 640

        # the tile and the server both say it is transcoded, once for the camera
        assert "transcoded to VP8" in await ff.wait_for(f"{BADGE}.includes('VP8') && {BADGE}", timeout=5)
        overview = await api_json(ff, "/api/webrtc")
        assert [(t["stream"], t["from"], t["to"], t["viewers"]) for t in overview["transcoding"]] == [
            ("gate", "h264", "vp8", 1)
        ]
        assert [s["codec"] for s in overview["list"]] == ["vp8"]
        assert (await api_json(ff, "/api/cameras/gate"))["status"]["transcoding"] is True
        GENERATED.mkdir(exist_ok=True)
        await ff.screenshot(GENERATED / "grid-firefox-vp8.png")
        assert not ff.errors, ff.errors


async def test_browser_with_neither_h264_nor_vp8_is_told_why_once(make_deployment, start_server, rtsp_server):  # noqa: F811
    server = one_camera(make_deployment, start_server, rtsp_server.url("h264_gop1"))
    async with launch_firefox() as ff:
        await ff.add_preload_script(OFFER_VP9_ONLY)
        await log_in(ff, server.url)
        # the server's 400 reason, shown on the tile
        message = await ff.wait_for(TILE_MESSAGE)
        assert message.startswith("This browser cannot play this camera: "), message
        assert "no H.264" in message and "no VP8" in message and "offered: VP9" in message, message
        # final: no retry (a retry would show "Reconnecting…" and open a new peer connection)
        await asyncio.sleep(3.0)
        assert await ff.evaluate(TILE_MESSAGE) == message
        assert await ff.evaluate("window.bconnect.peers().length") == 0
        assert (await api_json(ff, "/api/webrtc"))["sessions"] == 0
        assert not ff.errors, ff.errors
