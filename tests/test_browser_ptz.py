"""The PTZ panel in a real browser: Debian's chromium driven by Playwright, against a real server.

The PTZ camera is the ONVIF device EMULATOR of tests/support/onvif_emulator.py
(no camera firmware can run here), reached by the server through the real
ONVIF driver; its stream is a real GStreamer RTSP server asking for the
camera's credentials. The test presses the panel's buttons like an operator
and reads what reached the emulator.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from support.api_users import make_tokens
from support.browser import GENERATED, launch_chromium
from support.onvif_emulator import OnvifEmulator
from support.waiting import wait_for

from core.testing.conformance import CAMERA_PASSWORD, CAMERA_USER

pytestmark = [pytest.mark.browser, pytest.mark.rtsp]

USERS = [("ani", "operator", "dishub"), ("budi", "operator", "dishub"), ("vera", "viewer", "dishub")]


def password(user: str) -> str:
    return f"pw-{user}-0123456789"  # as support.api_users makes them


@pytest.fixture
def ptz_camera(rtsp_camera):
    emu = OnvifEmulator(
        username=CAMERA_USER, password=CAMERA_PASSWORD,
        stream_uri=rtsp_camera.url("h264_gop1"), sub_stream_uri=rtsp_camera.url("h264"),
    ).start()
    yield emu
    emu.stop()


def deployment(make_deployment, emu: OnvifEmulator, fixed_url: str):
    return make_deployment(
        f"""
        [[plugins.onvif_camera.devices]]
        id = "ptz-1"
        name = "Simpang Muara Rapak (PTZ)"
        host = "127.0.0.1"
        port = {emu.port}
        username = "{CAMERA_USER}"
        password = "{CAMERA_PASSWORD}"
        agency = "dishub"
        area = "beruang_madu"
        timeout_s = 2
        tour_dwell_s = 600

        [[plugins.stream_url.cameras]]
        id = "fixed-1"
        name = "Gerbang Beller"
        url = "{fixed_url}"
        username = "{CAMERA_USER}"
        password = "{CAMERA_PASSWORD}"
        agency = "dishub"
        area = "beller"

        [plugins.patrol_tours]
        """
    )


def calls_since(emu: OnvifEmulator, start: int, *ops: str) -> list[tuple[str, dict]]:
    return [(op, params) for op, params in emu.calls[start:] if op in ops]


async def log_in(page: Page, url: str, user: str) -> None:
    await page.goto(url + "/")
    await page.fill("#username", user)
    await page.fill("#password", password(user))
    await page.click("button[type=submit]")
    await page.wait_for_url("**/static/index.html", timeout=15_000)
    await page.wait_for_selector('.tile[data-camera="ptz-1"]', timeout=15_000)


async def test_operator_steers_the_camera_and_a_viewer_sees_no_panel(make_deployment, start_server, rtsp_camera, ptz_camera):
    emu = ptz_camera
    dep = deployment(make_deployment, emu, rtsp_camera.url("h264"))
    tokens = await asyncio.to_thread(make_tokens, dep.path, USERS)  # it runs its own event loop
    server = start_server(dep)
    GENERATED.mkdir(exist_ok=True)

    async with async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await log_in(page, server.url, "ani")

            # the PTZ tile selected: the panel shows its presets and the running patrol tour
            await page.click('.tile[data-camera="ptz-1"]')
            panel = page.locator("#ptz")
            await panel.wait_for(state="visible")
            assert await panel.get_attribute("data-camera") == "ptz-1"
            await page.wait_for_selector("#ptz .ptz-presets button[data-preset]")
            names = await page.locator("#ptz .ptz-presets button").all_text_contents()
            assert names == ["Simpang utara", "Simpang selatan", "Halte"]
            await page.wait_for_function(
                "document.querySelector('#ptz .ptz-tour-state').textContent.startsWith('Running')", timeout=10_000
            )

            # a preset: the camera receives GotoPreset, the panel marks it, control is ours, the tour pauses
            start = len(emu.calls)
            await page.click('#ptz .ptz-presets button[data-preset="2"]')
            await wait_for(lambda: calls_since(emu, start, "GotoPreset"), what="GotoPreset at the emulator")
            assert [p["PresetToken"] for _, p in calls_since(emu, start, "GotoPreset")] == ["2"]
            await page.wait_for_selector('#ptz[data-active-preset="2"] button[data-preset="2"].active')
            assert await page.text_content("#ptz .ptz-active-name") == "Simpang selatan"
            assert emu.position == [-0.4, -0.1, 0.2]
            lock_text = await page.text_content("#ptz .ptz-lock-text")
            assert re.fullmatch(r"You · [12]:\d\d left", lock_text), lock_text  # the driver's 120 s
            await page.wait_for_function(
                "document.querySelector('#ptz .ptz-tour-state').textContent === 'Paused: manual control by ani'"
            )

            # press and hold an arrow: ContinuousMove while pressed, Stop on release
            start = len(emu.calls)
            await page.hover("#ptz .pad.e")
            await page.mouse.down()
            await wait_for(lambda: calls_since(emu, start, "ContinuousMove"), what="ContinuousMove")
            assert emu.velocity == [0.5, 0.0, 0.0]
            assert not calls_since(emu, start, "Stop"), "stopped while still pressed"
            assert await page.get_attribute("#ptz .pad.e", "class") == "pad e pressed"
            await page.mouse.up()
            await wait_for(lambda: calls_since(emu, start, "Stop"), what="Stop")
            assert [op for op, _ in calls_since(emu, start, "ContinuousMove", "Stop")] == ["ContinuousMove", "Stop"]
            assert emu.velocity == [0.0, 0.0, 0.0]
            await page.wait_for_selector('#ptz[data-active-preset=""]')  # moved by hand: off the preset

            # zoom in, held: a zoom speed, then Stop
            start = len(emu.calls)
            await page.hover("#ptz .zoom-in")
            await page.mouse.down()
            await wait_for(lambda: calls_since(emu, start, "ContinuousMove"), what="zoom move")
            assert emu.velocity == [0.0, 0.0, 0.5]
            await page.mouse.up()
            await wait_for(lambda: calls_since(emu, start, "Stop"), what="zoom stop")

            # the tour off and on again
            await page.click("#ptz .ptz-tour-toggle")
            await page.wait_for_function("document.querySelector('#ptz .ptz-tour-state').textContent === 'Off'")
            assert not await page.is_checked("#ptz .ptz-tour-toggle")
            await page.click("#ptz .ptz-tour-toggle")
            await page.wait_for_function("document.querySelector('#ptz .ptz-tour-state').textContent.startsWith('Paused')")
            await page.click('#ptz .ptz-presets button[data-preset="1"]')
            await page.wait_for_selector('#ptz[data-active-preset="1"] button[data-preset="1"].active')
            await page.wait_for_timeout(1200)  # the picture settles for the screenshot
            await page.screenshot(path=str(GENERATED / "ptz.png"))

            # ani gives control back; budi takes it: the panel names budi and shows the API's refusal
            await page.click("#ptz .ptz-release")
            await page.wait_for_function(
                "document.querySelector('#ptz .ptz-lock-text').textContent.startsWith('Free')"
            )
            with httpx.Client(base_url=server.url, timeout=10) as http:
                r = http.post("/api/cameras/ptz-1/ptz/control", headers={"Authorization": f"Bearer {tokens['budi']}"})
                assert r.status_code == 200, r.text
            start = len(emu.calls)
            await page.click('#ptz .ptz-presets button[data-preset="3"]')
            error = page.locator("#ptz .ptz-error")
            await error.wait_for(state="visible")
            assert "under manual control by budi" in await error.text_content()
            assert not calls_since(emu, start, "GotoPreset")
            await page.wait_for_function(
                "document.querySelector('#ptz .ptz-lock-text').textContent.startsWith('budi · ')"
            )
            assert await page.is_disabled("#ptz .ptz-take")

            # a fixed camera selected: no panel
            await page.click('.tile[data-camera="fixed-1"]')
            await panel.wait_for(state="hidden")
            assert not errors, errors

            # a viewer sees the PTZ camera but no panel
            viewer = await browser.new_page(viewport={"width": 1200, "height": 800})
            await log_in(viewer, server.url, "vera")
            await viewer.click('.tile[data-camera="ptz-1"]')
            await viewer.wait_for_timeout(500)
            assert await viewer.locator("#ptz").is_hidden()
            assert await viewer.locator('.tile[data-camera="ptz-1"].selected').count() == 1
        finally:
            await browser.close()
