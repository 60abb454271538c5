"""The camera driver conformance kit, run against every driver in the repository.

Streams come from a real GStreamer RTSP server that asks for credentials
(the kit's ``rtsp_camera`` fixture) or, for the simulator, from its real H.264
files. Devices whose firmware cannot run here are EMULATORS: the ONVIF device
emulator of tests/support/onvif_emulator.py (real SOAP, WS-Security checked)
and, for the guide's fictitious PelitaCam, the HTTP emulator of tests/support/pelita_emulator.py.
Unreachable hosts are closed ports on 127.0.0.1: no test sends anything
beyond this machine.

The second half checks the kit itself: drivers that break a rule, written
for that purpose, must fail the check that covers the rule.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from support.onvif_emulator import OnvifEmulator
from support.deployment import KIT_TABLES
from support.pelita_emulator import PelitaEmulator

from core.interfaces import CameraInfo, Capability, Preset, StreamSource
from core.testing.conformance import (
    CAMERA_PASSWORD,
    CAMERA_USER,
    CHECKS,
    AuthRtspServer,
    ConformanceError,
    DriverCase,
    DriverConformance,
    Expect,
    check_driver,
    run_conformance,
)
from core.testing.conformance import load_driver as build_driver
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture: a server without credentials)

pytestmark = [pytest.mark.rtsp, pytest.mark.conformance]

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "camera-drivers.md"


def load_driver(plugin: str, table: str, **kwargs):
    """The kit's ``load_driver`` in a deployment with Balikpapan's four rollout areas and its agencies."""
    return build_driver(plugin, table, tables=KIT_TABLES, **kwargs)


# --- stream_url: cameras by URL ---------------------------------------------------------------


def stream_url_table(url: str, password: str = CAMERA_PASSWORD) -> str:
    return f"""
    [[plugins.stream_url.cameras]]
    id = "gerbang"
    name = "Gerbang Beruang Madu"
    url = "{url}"
    username = "{CAMERA_USER}"
    password = "{password}"
    area = "beruang_madu"
    """


class TestStreamUrl(DriverConformance):
    @pytest.fixture
    def driver_case(self, rtsp_camera, closed_port):
        url = rtsp_camera.url("h264_gop1")
        return DriverCase(
            name="stream_url",
            driver=lambda: load_driver("stream_url", stream_url_table(url)),
            wrong_credentials=lambda: load_driver("stream_url", stream_url_table(url, "not-the-password")),
            unreachable=lambda: load_driver("stream_url", stream_url_table(f"rtsp://127.0.0.1:{closed_port}/h264")),
            secret=CAMERA_PASSWORD,
            expect=Expect(codec="h264", size=(640, 360), capabilities=frozenset({Capability.SNAPSHOT})),
        )


# --- onvif_camera: any ONVIF device (here the emulator) ------------------------------------------


@pytest.fixture
def onvif_device(rtsp_camera):
    """The ONVIF device EMULATOR; its GetStreamUri answers the real RTSP server's URLs."""
    emu = OnvifEmulator(
        username=CAMERA_USER,
        password=CAMERA_PASSWORD,
        stream_uri=rtsp_camera.url("h264_gop1"),
        sub_stream_uri=rtsp_camera.url("h264"),
    ).start()
    yield emu
    emu.stop()


def onvif_table(port: int, password: str = CAMERA_PASSWORD) -> str:
    return f"""
    [[plugins.onvif_camera.devices]]
    id = "onvif-1"
    name = "Simpang Muara Rapak"
    host = "127.0.0.1"
    port = {port}
    username = "{CAMERA_USER}"
    password = "{password}"
    agency = "dishub"
    area = "beruang_madu"
    timeout_s = 2
    """


class TestOnvifCamera(DriverConformance):
    @pytest.fixture
    def driver_case(self, onvif_device, closed_port):
        port = onvif_device.port
        return DriverCase(
            name="onvif_camera",
            driver=lambda: load_driver("onvif_camera", onvif_table(port)),
            wrong_credentials=lambda: load_driver("onvif_camera", onvif_table(port, "not-the-password")),
            unreachable=lambda: load_driver("onvif_camera", onvif_table(closed_port)),
            secret=CAMERA_PASSWORD,
            observed=lambda: onvif_device.calls,
            expect=Expect(
                codec="h264",
                capabilities=frozenset({Capability.PTZ, Capability.ZOOM, Capability.PRESETS, Capability.SNAPSHOT}),
            ),
        )


# --- dishub_cameras: the ATCS fleet, PTZ over ONVIF ----------------------------------------------


def dishub_table(url: str, onvif_port: int, password: str = CAMERA_PASSWORD) -> str:
    return f"""
    [plugins.dishub_cameras]
    url_template = "{url}"
    username = "{CAMERA_USER}"
    password = "{password}"
    areas = ["beruang_madu"]
    onvif_port = {onvif_port}
    onvif_timeout_s = 2
    """


class TestDishubCameras(DriverConformance):
    @pytest.fixture
    def driver_case(self, rtsp_camera, onvif_device, closed_port):
        url, port = rtsp_camera.url("h264_gop1"), onvif_device.port
        return DriverCase(
            name="dishub_cameras",
            camera_id="atcs-bm-01",
            driver=lambda: load_driver("dishub_cameras", dishub_table(url, port)),
            wrong_credentials=lambda: load_driver("dishub_cameras", dishub_table(url, port, "not-the-password")),
            unreachable=lambda: load_driver(
                "dishub_cameras", dishub_table(f"rtsp://127.0.0.1:{closed_port}/ch1", closed_port)
            ),
            secret=CAMERA_PASSWORD,
            observed=lambda: onvif_device.calls,
            expect=Expect(codec="h264", capabilities=frozenset({Capability.PTZ, Capability.ZOOM, Capability.PRESETS})),
        )


# --- polri_etle: CCTV and ETLE cameras, static and mobile ----------------------------------------


def polri_table(url: str, password: str = CAMERA_PASSWORD) -> str:
    return f"""
    [plugins.polri_etle]
    url_template = "{url}"
    username = "{CAMERA_USER}"
    password = "{password}"
    """


class TestPolriEtle(DriverConformance):
    @pytest.fixture
    def driver_case(self, rtsp_camera, closed_port):
        url = rtsp_camera.url("h264_gop1")
        return DriverCase(
            name="polri_etle",
            driver=lambda: load_driver("polri_etle", polri_table(url)),
            wrong_credentials=lambda: load_driver("polri_etle", polri_table(url, "not-the-password")),
            unreachable=lambda: load_driver("polri_etle", polri_table(f"rtsp://127.0.0.1:{closed_port}/live/main")),
            secret=CAMERA_PASSWORD,
            expect=Expect(codec="h264", size=(640, 360)),
        )


# --- traffic_sim: simulated streets, real H.264 files ------------------------------------------------

SIM_TABLE = """
[plugins.traffic_sim]
resolution = "320x180"
fps = 10
loop_seconds = 2
keyframe_seconds = 1
label = false
wait_for_render = true

[[plugins.traffic_sim.cameras]]
id = "sim-1"
name = "SIM Beruang Madu"
area = "beruang_madu"
seed = 7
"""


@pytest.fixture(scope="module")
def sim_data(tmp_path_factory):
    return tmp_path_factory.mktemp("sim-data")  # rendered once, cached for every check


class TestTrafficSim(DriverConformance):
    @pytest.fixture
    def driver_case(self, sim_data):
        return DriverCase(
            name="traffic_sim",
            driver=lambda: load_driver("traffic_sim", SIM_TABLE, data_dir=sim_data),
            expect=Expect(codec="h264", size=(320, 180), capabilities=frozenset(), packets=15),
            skip={
                "wrong_credentials": "a simulated camera is a local file: it asks for no credentials",
                "unreachable": "a simulated camera is a local file on this machine: there is no host to reach",
            },
        )


# --- example_vendor: the guide's PelitaCam (fictitious) -------------------------------------------


@pytest.fixture(scope="module")
def pelita_rtsp():
    """The PelitaCam's RTSP side: a real RTSP server at its paths, asking for credentials."""
    server = AuthRtspServer(mounts={"live/main": ("h264", 25, True), "live/sub": ("h264", 25, True)}).start()
    yield server
    server.stop()


@pytest.fixture
def pelita():
    emu = PelitaEmulator(CAMERA_USER, CAMERA_PASSWORD)
    yield emu
    emu.stop()


# --- guide example: start (docs/camera-drivers.md shows this part verbatim) ---
def pelita_table(host: str, rtsp_port: int, password: str = CAMERA_PASSWORD) -> str:
    return f"""
    [[plugins.example_vendor.cameras]]
    id = "pelita-01"
    name = "Jl. Sudirman / Klandasan"
    host = "{host}"
    rtsp_port = {rtsp_port}
    username = "{CAMERA_USER}"
    password = "{password}"
    area = "beruang_madu"
    """


class TestExampleVendor(DriverConformance):
    @pytest.fixture
    def driver_case(self, pelita, pelita_rtsp, closed_port):
        host, port = pelita.host, pelita_rtsp.port
        return DriverCase(
            name="example_vendor",
            driver=lambda: load_driver("example_vendor", pelita_table(host, port)),
            wrong_credentials=lambda: load_driver("example_vendor", pelita_table(host, port, "wrong")),
            unreachable=lambda: load_driver(
                "example_vendor", pelita_table(f"127.0.0.1:{closed_port}", closed_port)
            ),
            secret=CAMERA_PASSWORD,  # must never show in a repr, an API answer or a log
            observed=lambda: pelita.requests,  # every PTZ command must reach the device
            expect=Expect(codec="h264", size=(640, 360)),
        )
# --- guide example: end ---


def test_the_guide_shows_the_example_that_runs_here():
    source = Path(__file__).read_text()
    example = re.search(r"# --- guide example: start.*?\n(.*?)# --- guide example: end", source, re.S).group(1)
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert example in blocks, "docs/camera-drivers.md must show the conformance example of this file verbatim"


def test_the_emulators_saw_the_commands_of_a_full_run(pelita, pelita_rtsp, closed_port):
    """run_conformance: every check passes for the example driver, and the device saw each PTZ command."""
    host, port = pelita.host, pelita_rtsp.port
    case = DriverCase(
        name="example_vendor",
        driver=lambda: load_driver("example_vendor", pelita_table(host, port)),
        wrong_credentials=lambda: load_driver("example_vendor", pelita_table(host, port, "wrong")),
        unreachable=lambda: load_driver("example_vendor", pelita_table(f"127.0.0.1:{closed_port}", closed_port)),
        secret=CAMERA_PASSWORD,
        observed=lambda: pelita.requests,
    )
    results = run_conformance(case, ["describe", "ptz", "presets", "zoom"])
    assert results == dict.fromkeys(["describe", "ptz", "presets", "zoom"], "passed")
    actions = [body["action"] for method, _, body in pelita.requests if method == "POST"]
    assert actions == ["move", "stop", "move", "stop", "absolute", "preset", "preset", "zoom", "zoom", "move", "stop"]
    with pytest.raises(ValueError, match="unknown check"):
        run_conformance(case, ["teleport"])


# --- the kit catches drivers that break the rules -------------------------------------------------
# The drivers below are deliberately wrong test doubles: each breaks one rule.


class FixedDriver:
    """A one-camera driver over a given stream; the broken variants below derive from it."""

    name = "broken"

    def __init__(self, source: StreamSource, capabilities=frozenset(), control=None) -> None:
        self.source = source
        self.capabilities = frozenset(capabilities)
        self.control = control

    async def cameras(self) -> list[CameraInfo]:
        presets = (Preset("1", "Utara"),) if Capability.PRESETS in self.capabilities else ()
        return [CameraInfo("cam", "Cam", "pemkot", self.name, self.source, capabilities=self.capabilities, presets=presets)]

    def ptz(self, camera_id: str):
        return self.control


class RaisesWhenUnreachable(FixedDriver):
    async def cameras(self) -> list[CameraInfo]:
        raise ConnectionRefusedError("camera refused the connection")


class SilentPtz:
    """Says yes to every command and does nothing; or never answers (``hang``)."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)

    async def list_presets(self):
        return [Preset("1", "Utara")]

    async def goto_preset(self, preset_id):
        await self._maybe_hang()

    async def continuous_move(self, pan, tilt, zoom):
        await self._maybe_hang()

    async def absolute_move(self, pan, tilt, zoom):
        await self._maybe_hang()

    async def zoom(self, level):
        await self._maybe_hang()

    async def stop(self):
        await self._maybe_hang()


PTZ = {Capability.PTZ, Capability.PRESETS, Capability.ZOOM}


@pytest.mark.parametrize(
    "check, make, expect, error",
    [
        (
            "describe",
            lambda url, closed: FixedDriver(StreamSource(url.replace("rtsp://", f"rtsp://{CAMERA_USER}:{CAMERA_PASSWORD}@"))),
            Expect(),
            "url carries credentials",
        ),
        ("describe", lambda url, closed: FixedDriver(StreamSource(url), {Capability.PTZ}), Expect(), "declares ptz=True"),
        (
            "stream",
            lambda url, closed: FixedDriver(StreamSource(url, username=CAMERA_USER, password=CAMERA_PASSWORD)),
            Expect(codec="hevc"),
            "codec h264, expected hevc",
        ),
        (
            "ptz",
            lambda url, closed: FixedDriver(StreamSource(url), PTZ, SilentPtz(hang=True)),
            Expect(command_within_s=0.5),
            "no answer within 0.5 s",
        ),
        ("presets", lambda url, closed: FixedDriver(StreamSource(url), PTZ, SilentPtz()), Expect(), "without asking the device"),
        (
            "unreachable",
            lambda url, closed: RaisesWhenUnreachable(StreamSource(f"rtsp://127.0.0.1:{closed}/x")),
            Expect(),
            "lists a camera it cannot reach",
        ),
    ],
)
async def test_the_kit_fails_a_driver_that_breaks_a_rule(rtsp_camera, closed_port, check, make, expect, error):
    url = rtsp_camera.url("h264_gop1")
    case = DriverCase(
        name="broken",
        driver=lambda: make(url, closed_port),
        unreachable=lambda: make(url, closed_port),
        observed=lambda: [],  # the device saw nothing
        secret=CAMERA_PASSWORD,
        expect=expect,
    )
    with pytest.raises(ConformanceError, match=re.escape(error)):
        await check_driver(case, [check])


async def test_wrong_credentials_that_open_the_stream_fail_the_kit(rtsp_server, closed_port):  # noqa: F811
    """A camera that lets anyone in (the server here asks no password) is not 'wrong credentials' tested."""
    url = rtsp_server.url("h264_gop1")
    case = DriverCase(
        name="open-door",
        driver=lambda: load_driver("stream_url", stream_url_table(url)),
        wrong_credentials=lambda: load_driver("stream_url", stream_url_table(url, "not-the-password")),
    )
    with pytest.raises(ConformanceError, match="the stream opened with wrong credentials"):
        await check_driver(case, ["wrong_credentials"])


async def test_a_case_without_a_failure_factory_must_say_why(rtsp_camera):
    url = rtsp_camera.url("h264_gop1")
    case = DriverCase(name="silent", driver=lambda: load_driver("stream_url", stream_url_table(url)))
    with pytest.raises(ConformanceError, match="gives no `unreachable` factory; give one, or say why not in `skip`"):
        await check_driver(case, ["unreachable"])
    assert set(CHECKS) == {"describe", "stream", "snapshot", "ptz", "presets", "zoom", "wrong_credentials", "unreachable"}


def test_load_driver_validates_the_table_like_check_config():
    from core.config import ConfigErrors

    table = '[[plugins.stream_url.cameras]]\nid = "x"\nname = "X"\nurll = "rtsp://a.invalid/"\n'
    with pytest.raises(ConfigErrors, match=r"deployment\.toml:4: \[plugins\.stream_url\.cameras\[0\]\.urll\] unknown key"):
        load_driver("stream_url", table)
