"""Ingest from a real GStreamer RTSP server and from real files: Annex-B, parameter sets, status."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import av
import pytest
from support.media import take, write_test_video
from support.waiting import wait_for

from core.hookspecs import hookimpl
from core.interfaces import CameraInfo, StreamSource
from core.media.bitstream import (
    ensure_parameter_sets,
    extradata_parameter_sets,
    iter_nals,
    nal_type,
    parameter_sets_in,
    parse_sps,
)
from core.media.ingest_settings import IngestSettings
from core.media.source_url import mask, url_with_credentials
from core.media.packets import CameraState
from core.media.registry import CameraRegistry
from core.plugin_host import PluginHost, new_plugin_manager
from core.testing.rtsp import RtspServer, start_rtsp_server

FAST = IngestSettings(open_timeout_s=8, stall_timeout_s=4, backoff_base_s=0.2, backoff_cap_s=1.0, offline_after_s=2)


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    server = start_rtsp_server()
    yield server
    server.stop()


def camera(cid: str, url: str, **source) -> CameraInfo:
    return CameraInfo(cid, cid.upper(), "pemkot", "test", StreamSource(url, **source))


@pytest.fixture(params=[0, 1], ids=["threads", "process"])
async def registry(request) -> Iterator[CameraRegistry]:
    """Each test runs with ingest threads in this process and with an ingest process (what ``serve`` does)."""
    reg = CameraRegistry(settings=FAST, ingest_processes=request.param)
    await reg.start()
    yield reg
    await reg.stop()


def assert_keyframes_decodable(packets, codec: str) -> int:
    keyframes = [p for p in packets if p.keyframe]
    for p in keyframes:
        assert p.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")), "not Annex-B"
        assert parameter_sets_in(p.data, codec) is not None, "keyframe without its parameter sets"
    for p in packets:
        assert p.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")), "not Annex-B"
    return len(keyframes)


@pytest.mark.parametrize(
    "mount, codec, profile",
    [
        ("h264", "h264", "42c01e"),  # parameter sets only in the SDP: the ingest inserts them
        ("h264_gop1", "h264", "42c01e"),  # parameter sets in band
        ("h265", "hevc", None),  # VPS/SPS/PPS sent once: inserted before later keyframes
    ],
)
async def test_rtsp_ingest_delivers_keyframes_with_parameter_sets(rtsp, registry, mount, codec, profile):
    rt = registry.add(camera("cam", rtsp.url(mount)))
    sub = rt.mux.subscribe("test", maxsize=1024, start="live")
    packets = await take(sub, 76, 15)  # 3 s at 25 fps: at least two keyframes
    assert assert_keyframes_decodable(packets, codec) >= 2
    info = rt.mux.stream_info
    assert (info.codec, info.width, info.height) == (codec, 640, 360)
    assert info.profile_level_id == profile
    assert info.fps == pytest.approx(25)
    assert parameter_sets_in(info.parameter_sets, codec) is not None
    dts = [p.dts for p in packets]
    assert dts == sorted(dts) and len(set(dts)) == len(dts)
    assert dts[-1] - dts[0] == pytest.approx(75 * 3600, rel=0.02)
    assert rt.status.state == CameraState.ONLINE and rt.status.reason is None
    assert rt.status.last_packet_at == pytest.approx(time.time(), abs=2)
    health = registry.health()["cam"]
    assert health["state"] == "online" and health["codec"] == codec and health["subscribers"] == 1


async def test_out_of_band_parameter_sets_are_inserted_after_the_delimiter(rtsp, registry):
    rt = registry.add(camera("cam", rtsp.url("h264")))
    sub = rt.mux.subscribe("test", maxsize=512, start="live")
    keyframes = [p for p in await take(sub, 60, 10) if p.keyframe]
    for p in keyframes:
        types = [nal_type("h264", p.data[b]) for b, _ in iter_nals(p.data)]
        # access unit delimiter first, then SPS and PPS, then the IDR slice
        assert types[:3] == [9, 7, 8] and 5 in types


async def test_keyframe_interval_follows_the_camera(rtsp, registry):
    rt = registry.add(camera("cam", rtsp.url("h264_gop1")))
    sub = rt.mux.subscribe("test", maxsize=512, start="live")
    packets = await take(sub, 76, 10)
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert keys == [0, 25, 50, 75]


async def test_credentials_reach_the_camera_but_never_a_log_or_status(rtsp, registry, caplog):
    caplog.set_level(logging.DEBUG)
    good = registry.add(camera("good", rtsp.url("h264"), username="admin", password="s3cr3t-pw"))
    bad = registry.add(camera("bad", "rtsp://127.0.0.1:1/live", username="admin", password="s3cr3t-pw"))
    inline = registry.add(camera("inline", "rtsp://admin:in-url-pw@127.0.0.1:1/live"))
    await wait_for(lambda: good.status.state == CameraState.ONLINE, 10, "the camera with credentials online")
    await wait_for(lambda: bad.status.state == CameraState.OFFLINE, 10, "the unreachable camera offline")
    await wait_for(lambda: inline.status.state == CameraState.OFFLINE, 10, "the other unreachable camera offline")
    assert "connection refused" in bad.status.reason
    text = caplog.text + repr(registry.health()) + repr([rt.info for rt in registry.all()])
    assert "s3cr3t-pw" not in text and "in-url-pw" not in text
    assert "camera bad offline: rtsp://127.0.0.1:1/live (connection refused)" in caplog.text


def test_url_with_credentials_and_mask():
    src = StreamSource("rtsp://cam.invalid:554/live?x=1", username="ad min", password="p@ss:w/rd")
    url = url_with_credentials(src)
    assert url == "rtsp://ad%20min:p%40ss%3Aw%2Frd@cam.invalid:554/live?x=1"
    assert mask(f"error opening '{url}'", src) == "error opening 'rtsp://***@cam.invalid:554/live?x=1'"
    assert mask("password p@ss:w/rd leaked", src) == "password *** leaked"
    assert url_with_credentials(StreamSource("/tmp/x.mp4", username="u", password="p")) == "/tmp/x.mp4"


async def test_mp4_file_is_normalised_to_annexb_and_looped_in_real_time(tmp_path, registry):
    path = write_test_video(tmp_path / "clip.mp4", seconds=1.0, gop=10)  # avcC, sets only in extradata
    rt = registry.add(camera("file", str(path), realtime_loop=True))
    sub = rt.mux.subscribe("test", maxsize=1024, start="live")
    started = time.monotonic()
    packets = await take(sub, 60, 10)  # 2.4 s: the 1 s file played almost three times
    elapsed = time.monotonic() - started
    assert elapsed > 1.8, "a looped file plays in real time, not as fast as it can be read"
    assert assert_keyframes_decodable(packets, "h264") == 7  # frames 0, 10, 20 of each 25-frame loop
    dts = [p.dts for p in packets]
    assert dts == sorted(dts) and len(set(dts)) == len(dts), "timestamps run on across loops"
    assert {p.generation for p in packets} == {1}, "looping is not a reconnect"
    info = rt.mux.stream_info
    assert (info.codec, info.width, info.height) == ("h264", 320, 240)
    assert rt.status.state == CameraState.ONLINE


async def test_mkv_h265_file_is_normalised(tmp_path, registry):
    path = write_test_video(tmp_path / "clip.mkv", codec="libx265", container="matroska", seconds=0.6, gop=5)
    rt = registry.add(camera("hevc", str(path), realtime_loop=True))
    sub = rt.mux.subscribe("test", maxsize=1024, start="live")
    packets = await take(sub, 20, 10)
    assert assert_keyframes_decodable(packets, "hevc") >= 3
    assert rt.mux.stream_info.codec == "hevc" and rt.mux.stream_info.width == 320


def junk(path):
    path.write_bytes(b"this is not video " * 500)
    return path


@pytest.mark.parametrize(
    "make, state, reason",
    [
        (lambda d: junk(d / "junk.mp4"), "error", "not a video stream"),
        (lambda d: write_test_video(d / "mjpeg.mkv", codec="mjpeg", container="matroska", seconds=0.2), "error", "unsupported codec mjpeg"),
        (lambda d: d / "missing.mp4", "error", "file not found"),
        (lambda d: "rtsp://127.0.0.1:1/nothing", "offline", "connection refused"),
        (lambda d: "rtsp://camera.invalid/live", "offline", "cannot resolve host name 'camera.invalid'"),
        (lambda d: "ftp://example.org/x.mp4", "error", "unsupported URL scheme 'ftp'"),
    ],
    ids=["garbage", "mjpeg", "missing", "refused", "dns", "scheme"],
)
async def test_bad_sources_give_a_state_and_a_reason_and_are_retried(tmp_path, registry, make, state, reason):
    rt = registry.add(camera("bad", str(make(tmp_path))))
    await wait_for(lambda: rt.status.attempts >= 2, 20, "two attempts")  # a failing DNS look-up alone can take seconds
    status = rt.status
    assert status.state.value == state
    assert reason in status.reason
    assert rt.mux.stream_info is None and rt.mux.last_keyframe() is None


async def test_duplicate_camera_id_is_refused(registry, tmp_path):
    registry.add(camera("one", str(tmp_path / "a.mp4")))
    with pytest.raises(ValueError, match="already"):
        registry.add(camera("one", str(tmp_path / "b.mp4")))


class _Offers:
    """A test plugin handing the registry the drivers it was given."""

    def __init__(self, *drivers) -> None:
        self.drivers = drivers

    @hookimpl
    def bconnect_register_camera_drivers(self, register):
        for driver in self.drivers:
            register(driver)


class _Driver:
    def __init__(self, name: str, cameras=(), error: Exception | None = None) -> None:
        self.name = name
        self._cameras = list(cameras)
        self._error = error

    async def cameras(self):
        if self._error is not None:
            raise self._error
        return self._cameras


async def test_registry_contains_failing_drivers_and_refuses_duplicate_ids(tmp_path):
    path = str(write_test_video(tmp_path / "a.mp4", seconds=0.4, gop=5))
    host = PluginHost(new_plugin_manager())
    plugins = {
        "good": _Offers(_Driver("good", [camera("a", path), camera("b", path)])),
        "broken": _Offers(_Driver("broken", error=RuntimeError("inventory server unreachable"))),
        "twin": _Offers(_Driver("twin", [camera("a", path), camera("c", path)]), object()),
    }
    for name, plugin in plugins.items():
        host.pm.register(plugin, name=name)
    reg = CameraRegistry(host, settings=FAST)
    await reg.start()
    try:
        assert sorted(rt.id for rt in reg.all()) == ["a", "b", "c"]
        assert reg.get("a").plugin == "good"
        assert host.states["broken"].errors == 1
        assert "inventory server unreachable" in host.states["broken"].last_error
        # the twin's camera "a" is refused, its camera "c" kept; the non-driver object reported
        assert host.states["twin"].errors == 2
        await wait_for(lambda: reg.get("c").status.state == CameraState.ONLINE, 10, "camera c online")
    finally:
        await reg.stop()
    assert all(rt.mux.closed for rt in reg.all())


@pytest.mark.parametrize(
    "encoder, codec, size, profile",
    [
        ("libx264", "h264", (1920, 1080), "64"),  # High profile, 1088 rows cropped to 1080
        ("libx264", "h264", (704, 576), "64"),
        ("libx265", "hevc", (1920, 1080), None),
        ("libx265", "hevc", (1280, 720), None),
    ],
)
def test_sps_gives_resolution_and_profile(tmp_path, encoder, codec, size, profile):
    path = write_test_video(
        tmp_path / "v.mkv", codec=encoder, container="matroska", seconds=0.04, width=size[0], height=size[1],
        preset="veryfast",
    )
    with av.open(str(path)) as c:
        extradata = c.streams.video[0].codec_context.extradata
    sets = extradata_parameter_sets(extradata, codec)  # from avcC / hvcC
    assert parameter_sets_in(sets, codec) is not None
    sps = parse_sps(sets, codec)
    assert (sps.width, sps.height) == size
    if profile is None:
        assert sps.profile_level_id is None
    else:
        assert sps.profile_level_id.startswith(profile) and len(sps.profile_level_id) == 6


def test_parameter_sets_go_after_the_access_unit_delimiter():
    sets = b"\x00\x00\x00\x01\x67\x42\x00\x1e\xaa\x00\x00\x00\x01\x68\xce\x3c\x80"
    aud_idr = b"\x00\x00\x00\x01\x09\x10\x00\x00\x00\x01\x65\x88\x84"
    out, inserted = ensure_parameter_sets(aud_idr, "h264", sets)
    assert inserted and out == b"\x00\x00\x00\x01\x09\x10" + sets + b"\x00\x00\x00\x01\x65\x88\x84"
    idr = b"\x00\x00\x01\x65\x88\x84"
    assert ensure_parameter_sets(idr, "h264", sets) == (sets + idr, True)
    assert ensure_parameter_sets(out, "h264", sets) == (out, False)
