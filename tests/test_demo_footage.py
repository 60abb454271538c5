"""Real footage in the demo: vtest.avi, converted once to H.264, played looped by the stream_url driver.

The conversion is set-up's own step (``plugins.stream_url.to_h264``); here it
is called again, which does nothing when set-up did it already.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import av
import pytest
from support.api_users import make_tokens

from core.config import load_file
from core.testing.pytest_plugin import bconnect
from plugins.stream_url.to_h264 import ConvertError, convert

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CONVERTED = REPO / "data" / "footage" / "vtest.mp4"  # where scripts/setup.sh writes it


@pytest.fixture(scope="module")
def footage() -> Path:
    if not VTEST.is_file():
        pytest.fail(f"{VTEST} missing: scripts/setup.sh installs opencv-doc")
    convert(VTEST, CONVERTED)
    return CONVERTED


def test_demo_deployment_has_the_real_footage_camera_with_analytics():
    result = bconnect("check-config", str(REPO / "deploy" / "demo.toml"))
    assert result.returncode == 0, result.stderr
    assert "stream_url" in result.stdout and "vision_onnx" in result.stdout
    plugins = load_file(REPO / "deploy" / "demo.toml").deployment.plugins
    [camera] = plugins["stream_url"]["cameras"]
    assert camera["loop"] is True
    # `make run` starts the server in the project's folder: the relative path is set-up's file
    assert (REPO / camera["url"]).resolve() == CONVERTED
    assert plugins["vision_onnx"].get("enabled", True) is True


def test_converted_footage_is_h264_for_browsers_and_a_clean_loop(footage):
    assert convert(VTEST, footage) is False  # up to date: set-up's second run does nothing
    with av.open(str(footage)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        assert (ctx.name, ctx.profile, ctx.pix_fmt) == ("h264", "Main", "yuv420p")
        assert (stream.width, stream.height, stream.average_rate) == (768, 576, 10)
        packets = [p for p in container.demux(stream) if p.size]
    assert len(packets) == 795  # every frame of the source
    keyframes = [float(p.pts * p.time_base) for p in packets if p.is_keyframe]
    assert keyframes == [2.0 * i for i in range(len(keyframes))] and len(keyframes) == 40  # the loop starts on one
    assert all(p.pts == p.dts for p in packets)  # no B-frames: decode order is display order


def test_bad_source_is_refused(tmp_path):
    with pytest.raises(ConvertError, match="no such file"):
        convert(tmp_path / "none.avi", tmp_path / "out.mp4")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 50)
    with pytest.raises(ConvertError, match=str(junk)):
        convert(junk, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and list(tmp_path.glob(".out*")) == []  # nothing half-written


def test_footage_plays_through_the_stream_url_driver(footage, make_deployment, start_server):
    dep = make_deployment(
        f"""
[[plugins.stream_url.cameras]]
id = "vtest"
name = "Real footage"
url = "{footage}"
loop = true
area = "beruang_madu"
"""
    )
    token = make_tokens(dep.path, [("adm", "admin", "pemkot")])["adm"]
    server = start_server(dep)
    request = urllib.request.Request(server.url + "/api/health", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 60
    camera: dict = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request) as r:
            camera = json.load(r)["cameras"].get("vtest", {})
        if camera.get("state") == "online":
            break
        time.sleep(0.3)
    assert camera.get("state") == "online", (camera, server.log()[-2000:])
    assert (camera["codec"], camera["width"], camera["height"]) == ("h264", 768, 576)
    assert camera["fps"] == pytest.approx(10, abs=1) and camera["transcoding"] is False  # relayed as it is
