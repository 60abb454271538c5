"""The ONVIF driver against an ONVIF device EMULATOR (tests/support/onvif_emulator.py).

No vendor firmware can run here, so the device side is an emulator that
answers real SOAP over HTTP and checks WS-Security credentials; the client
side is the real driver on the real ``onvif-zeep-async`` library.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path

import av
import httpx
import pytest
from support.onvif_emulator import OnvifEmulator

from core.config import Deployment
from core.interfaces import Capability, PtzDriver
from core.plugin_host import PluginContext
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)
import core.drivers.onvif as onvif_driver
from core.drivers.onvif import OnvifAuthError, OnvifDevice, OnvifUnreachable
from plugins.onvif_camera.plugin import Config, OnvifCameras

PASSWORD = "emulator-secret"


def deployment() -> Deployment:
    return Deployment.model_validate(
        {"deployment": {"name": "t"}, "areas": {"beruang_madu": {"name": "Beruang Madu", "enabled": True}}}
    )


def make_driver(*devices: dict) -> OnvifCameras:
    config = Config.model_validate({"devices": list(devices)})
    ctx = PluginContext("onvif_camera", deployment(), Path("."), logging.getLogger("t"))
    return OnvifCameras(config, ctx)


def device(emu_port: int, **over) -> dict:
    return {
        "id": "cam-1", "name": "Emulated", "host": "127.0.0.1", "port": emu_port,
        "username": "admin", "password": PASSWORD, "agency": "dishub", "area": "beruang_madu",
        "timeout_s": 2, **over,
    }


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password=PASSWORD).start()
    yield emu
    emu.stop()


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never answers: a hung device."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()[1]
    stop.set()
    t.join(2)
    for s in held:
        s.close()
    server.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_describes_streams_snapshot_and_presets(emulator):
    driver = make_driver(device(emulator.port))
    try:
        (cam,) = await driver.cameras()
        assert cam.main.url == emulator.stream_uri
        assert cam.sub is not None and cam.sub.url == emulator.sub_stream_uri
        assert cam.snapshot is not None and cam.snapshot.url == f"{emulator.base}/snapshot/main.jpg"
        assert [(p.id, p.name) for p in cam.presets] == [("1", "Simpang utara"), ("2", "Simpang selatan"), ("3", "Halte")]
        assert cam.capabilities == {Capability.PTZ, Capability.ZOOM, Capability.PRESETS, Capability.SNAPSHOT}
        assert (cam.agency, cam.area, cam.driver) == ("dishub", "beruang_madu", "onvif_camera")
        assert isinstance(driver, PtzDriver) and driver.ptz("cam-1") is not None
        # credentials travel inside StreamSource only, and never show
        assert cam.main.password == PASSWORD
        assert PASSWORD not in repr(cam) and PASSWORD not in str(cam.public())
        # the snapshot URI gives a real JPEG with the device's credentials, and 401 without
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.get(cam.snapshot.url, auth=(cam.snapshot.username, cam.snapshot.password))
            assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
            assert (await http.get(cam.snapshot.url)).status_code == 401
    finally:
        await driver.close()


async def test_ptz_operations_reach_the_device(emulator):
    dev = OnvifDevice("127.0.0.1", emulator.port, "admin", PASSWORD, timeout_s=2)
    try:
        presets = await dev.list_presets()
        assert [p.id for p in presets] == ["1", "2", "3"]
        await dev.goto_preset("2")
        assert emulator.position == [-0.4, -0.1, 0.2]
        await dev.continuous_move(0.5, -0.25, 0.1)
        assert emulator.velocity == [0.5, -0.25, 0.1]
        await dev.stop()
        assert emulator.velocity == [0.0, 0.0, 0.0]
        await dev.absolute_move(0.3, 0.1, 0.7)
        assert emulator.position == [0.3, 0.1, 0.7]
        await dev.zoom(0.25)
        assert emulator.position == [0.3, 0.1, 0.25]  # zoom keeps pan and tilt
        assert emulator.ops()[-6:] == ["GetPresets", "GotoPreset", "ContinuousMove", "Stop", "AbsoluteMove", "AbsoluteMove"]
        assert emulator.calls[-1][1]["ProfileToken"] == "main"
        with pytest.raises(Exception, match="refused GotoPreset: no preset '9'"):
            await dev.goto_preset("9")
    finally:
        await dev.close()


async def test_wrong_credentials_give_a_clear_error(emulator, caplog):
    dev = OnvifDevice("127.0.0.1", emulator.port, "admin", "not-the-password", timeout_s=2)
    with pytest.raises(OnvifAuthError, match=r"127\.0\.0\.1:\d+: wrong username or password"):
        await dev.goto_preset("1")
    assert emulator.auth_failures >= 1 and "GotoPreset" not in emulator.ops()
    await dev.close()

    caplog.set_level(logging.DEBUG)
    driver = make_driver(device(emulator.port, password="not-the-password"))
    (cam,) = await driver.cameras()  # still listed, so it shows offline with a reason
    assert "wrong username or password" in driver.problems["cam-1"]
    assert driver.ptz("cam-1") is None and Capability.PTZ not in cam.capabilities
    assert "not-the-password" not in caplog.text and "not-the-password" not in driver.problems["cam-1"]
    assert driver.bconnect_health(None)["status"] == "degraded"
    await driver.close()


async def test_a_device_without_authentication_works_without_a_username():
    emu = OnvifEmulator(password=PASSWORD, open_access=True).start()
    try:
        dev = OnvifDevice("127.0.0.1", emu.port, None, None, timeout_s=2)
        desc = await dev.describe()
        assert desc.main_uri == emu.stream_uri
        await dev.goto_preset("2")
        assert "GotoPreset" in emu.ops() and emu.position == [-0.4, -0.1, 0.2]
        await dev.close()
    finally:
        emu.stop()


async def test_a_device_that_needs_credentials_says_so_when_none_are_configured(emulator):
    dev = OnvifDevice("127.0.0.1", emulator.port, None, None, timeout_s=2)
    with pytest.raises(OnvifAuthError, match="asks for a username and password, and none is configured"):
        await dev.goto_preset("1")
    assert "GotoPreset" not in emulator.ops()
    await dev.close()


async def test_unreachable_host_gives_a_clear_error_fast():
    port = closed_port()
    dev = OnvifDevice("127.0.0.1", port, "admin", PASSWORD, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(OnvifUnreachable, match=rf"127\.0\.0\.1:{port}: unreachable"):
        await dev.stop()
    assert time.monotonic() - started < 2
    driver = make_driver(device(port, stream_url="rtsp://127.0.0.1:1/fallback"))
    (cam,) = await driver.cameras()
    assert "unreachable" in driver.problems["cam-1"]
    assert cam.main.url == "rtsp://127.0.0.1:1/fallback" and cam.capabilities == frozenset()
    await driver.close()


async def test_an_unreachable_device_fails_the_next_calls_at_once_then_is_tried_again(silent_port, monkeypatch):
    dev = OnvifDevice("127.0.0.1", silent_port, "admin", PASSWORD, timeout_s=0.5)
    started = time.monotonic()
    results = await asyncio.gather(*(dev.goto_preset("1") for _ in range(3)), return_exceptions=True)
    assert time.monotonic() - started < 1.5  # one timeout, not three in a row behind the connection lock
    assert all(isinstance(r, OnvifUnreachable) for r in results), results
    assert "no answer to GetServices within 0.5 s" in str(results[0])
    assert "tried again in" in str(results[1]) and "no answer to GetServices" in str(results[1])
    monkeypatch.setattr(onvif_driver, "RETRY_AFTER_S", 0.0)
    dev._unreachable = (time.monotonic(), dev._unreachable[1])  # the pause is over: a real attempt again
    with pytest.raises(OnvifUnreachable, match="no answer to GetServices within 0.5 s"):
        await dev.goto_preset("1")
    await dev.close()


async def test_a_device_that_never_answers_does_not_hang(silent_port):
    driver = make_driver(device(silent_port, timeout_s=0.5))
    started = time.monotonic()
    (cam,) = await driver.cameras()
    assert time.monotonic() - started < 3
    assert "no answer to GetServices within 0.5 s" in driver.problems["cam-1"]
    assert cam.main.url == "rtsp://127.0.0.1:554/"
    await driver.close()


async def test_a_command_that_hangs_is_cut_by_the_timeout(emulator):
    emulator.hang.add("ContinuousMove")
    dev = OnvifDevice("127.0.0.1", emulator.port, "admin", PASSWORD, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(OnvifUnreachable, match="no answer to ContinuousMove within 0.5 s"):
        await dev.continuous_move(0.1, 0, 0)
    assert time.monotonic() - started < 2
    # the device is asked again afresh next time, and answers
    emulator.hang.clear()
    await dev.stop()
    assert emulator.ops()[-1] == "Stop"
    await dev.close()


async def test_unknown_area_is_refused_at_load():
    with pytest.raises(ValueError, match="device 'cam-1': area 'nowhere' is not declared"):
        make_driver(device(80, area="nowhere"))


def test_password_is_hidden_in_config_repr():
    config = Config.model_validate({"devices": [device(80)]})
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.model_dump())


@pytest.mark.rtsp
async def test_stream_uri_from_the_device_opens_a_real_rtsp_stream(rtsp_server):
    """The emulator hands out the URL of a real GStreamer RTSP server; PyAV reads H.264 from it."""
    emu = OnvifEmulator(password=PASSWORD, stream_uri=rtsp_server.url("h264")).start()
    driver = make_driver(device(emu.port))
    try:
        (cam,) = await driver.cameras()

        def first_packet() -> tuple[str, int]:
            with av.open(cam.main.url, options={"rtsp_transport": cam.main.transport, "timeout": "5000000"}) as c:
                stream = c.streams.video[0]
                packet = next(p for p in c.demux(stream) if p.size)
                return stream.codec_context.name, packet.size

        codec, size = await asyncio.wait_for(asyncio.to_thread(first_packet), 20)
        assert codec == "h264" and size > 0
    finally:
        await driver.close()
        emu.stop()
