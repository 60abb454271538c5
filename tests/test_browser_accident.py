"""The accident alert's PTZ offer in the alerts panel, in a real browser (Debian's chromium, Playwright).

The operator turns the offered camera from the alert; while another operator holds the camera the panel
shows the refusal with its reason. The PTZ camera is the ONVIF device EMULATOR of
tests/support/onvif_emulator.py (no camera firmware can run here), through the real driver and PTZ service.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.async_api import async_playwright
from support.browser import CHROMIUM, CHROMIUM_ARGS, GENERATED
from support.events import served
from support.onvif_emulator import OnvifEmulator

from core.app import create_app
from core.config import load_file
from core.testing.app import add_user
from core.testing.net import free_port
from plugins.accident_watch.analyzer import event_of
from plugins.accident_watch.offer import offer
from plugins.accident_watch.rule import Accident, Party

pytestmark = [pytest.mark.browser]

PASSWORD = "a-long-test-password-1"
EMU_PASSWORD = "ptz-emulator-pw"


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password=EMU_PASSWORD, stream_uri="rtsp://127.0.0.1:1/main", sub_stream_uri="rtsp://127.0.0.1:1/sub").start()
    yield emu
    emu.stop()


async def test_the_operator_turns_the_offered_camera_from_the_alert(make_deployment, emulator):
    dep = make_deployment(f"""
        [[plugins.onvif_camera.devices]]
        id = "cam-1"
        name = "Emulated PTZ"
        host = "127.0.0.1"
        port = {emulator.port}
        username = "admin"
        password = "{EMU_PASSWORD}"
        agency = "dishub"
        area = "beruang_madu"
        timeout_s = 2

        [[plugins.accident_watch.coverage]]
        camera = "cam-1"
        ptz_camera = "cam-1"
        preset = "2"
        """)
    app = create_app(load_file(dep.path))
    async with served(app, free_port()) as url:
        services = app.state.services
        await add_user("operator1", PASSWORD, role="operator", agency="dishub")
        plugin = services.plugins.pm.get_plugin("accident_watch")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 860})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(url + "/")
                await page.fill("#username", "operator1")
                await page.fill("#password", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url("**/static/index.html", timeout=15_000)
                await page.wait_for_selector('.alerts-live[data-state="live"]', state="attached", timeout=15_000)

                party = Party(3, "car", (10.0, 10.0, 50.0, 40.0), "abrupt_stop", 1.2)
                accident = Accident("cam-1", None, "lane", ("abrupt_stop",), (party,), 10.0, 12.0,
                                    datetime.now(timezone.utc), 1, party.box)
                offered = offer(plugin.config, "cam-1", "lane", services.public())
                shown = await services.events.publish(event_of(accident, plugin.config, offered, None, None))
                item = f'.alert-item[data-event="{shown.id}"]'
                await page.wait_for_selector(item, state="attached", timeout=10_000)
                await page.click("#alerts-toggle")
                go = f'{item} .alert-ptz-go[data-camera="cam-1"]'
                assert (await page.text_content(go)) == "cam-1 → Simpang selatan"
                await page.click(go)
                result = f"{item} .alert-ptz-result"
                await page.wait_for_selector(f'{result}[data-state="moved"]', timeout=10_000)
                assert await page.text_content(result) == "cam-1 on preset 2"
                assert emulator.position == [-0.4, -0.1, 0.2] and services.ptz.lock("cam-1").owner == "operator1"

                services.ptz.release("cam-1", "operator1")
                services.ptz.take_control("cam-1", "budi")  # another operator steers it now
                await page.click(go)
                await page.wait_for_selector(f'{result}[data-state="refused"]', timeout=10_000)
                assert "Not moved: camera cam-1 is under manual control by budi" in await page.text_content(result)
                GENERATED.mkdir(exist_ok=True)
                await page.screenshot(path=str(GENERATED / "alerts-ptz-offer.png"))
                assert errors == []
            finally:
                await browser.close()
