"""The alerts panel in a real browser: Debian's chromium driven by Playwright.

An event published on the server appears live (highlighted, with a toast and a
beep through WebAudio), can be acknowledged with its button, and the
acknowledgement is stored; another agency's event never reaches the page.
"""

from __future__ import annotations

import asyncio

import pytest
from PIL import Image
from playwright.async_api import async_playwright
from support.browser import CHROMIUM, CHROMIUM_ARGS, GENERATED
from support.events import CAMERAS, event, served

from core.app import create_app
from core.testing.app import add_user
from core.config import load_file
from core.events import store
from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.testing.net import free_port

pytestmark = [pytest.mark.browser]

PASSWORD = "a-long-test-password-1"


async def test_a_published_event_appears_live_and_is_acknowledged(make_deployment):
    app = create_app(load_file(make_deployment(CAMERAS).path))
    async with served(app, free_port()) as url:
        services = app.state.services
        await add_user("operator1", PASSWORD, role="operator", agency="dishub")
        jpeg = draw_boxes(Image.new("RGB", (320, 180), (40, 60, 80)), [Box(40, 50, 160, 140, "car 0.91")])
        snapshot = await asyncio.to_thread(store_snapshot, services.data_dir, jpeg)

        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
            )
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
                assert await page.is_hidden("#alerts")
                assert await page.text_content(".alerts-count") == "0"

                hidden = await services.events.publish(event("pcam", n=1))  # polri's camera: not for dishub
                shown = await services.events.publish(
                    event("dcam", kind="accident.suspected", n=2, priority="critical", zone_id="lane-2", snapshot=snapshot)
                )
                item = f'.alert-item[data-event="{shown.id}"]'
                await page.wait_for_selector(item, state="attached", timeout=10_000)
                assert "fresh" in (await page.get_attribute(item, "class"))
                assert await page.is_visible("#alerts-toast")
                assert "accident.suspected on dcam (Critical)" in await page.text_content("#alerts-toast")
                assert await page.evaluate("window.bconnectAlerts.beeps()") == 1
                assert await page.evaluate("window.bconnectAlerts.state.audio.state") == "running"
                assert "alarm" in await page.get_attribute("#alerts-toggle", "class")
                assert await page.text_content(".alerts-count") == "1"

                await page.click("#alerts-toggle")
                assert await page.is_visible(item)
                assert (await page.text_content(f"{item} .alert-meta")).startswith("dcam · zone lane-2 · ")
                await page.wait_for_function(f"document.querySelector('{item} img').complete", timeout=5_000)
                size = await page.eval_on_selector(f"{item} img", "i => [i.naturalWidth, i.naturalHeight]")
                assert size == [320, 180]  # the snapshot with its box came through the API
                GENERATED.mkdir(exist_ok=True)
                await page.screenshot(path=str(GENERATED / "alerts-panel.png"))

                await page.click(f"{item} .alert-ack")
                await page.wait_for_selector(f'{item}[data-acked="yes"]', timeout=10_000)
                assert (await page.text_content(f"{item} .alert-acked")).startswith("Acknowledged by operator1")
                assert await page.text_content(".alerts-count") == "0"
                assert await page.query_selector(f'.alert-item[data-event="{hidden.id}"]') is None

                stored = await store.get(shown.id)
                assert stored.ack is not None and stored.ack.by == "operator1"

                # the list filter: unacknowledged only hides it
                await page.check('.alerts-filters input[name="open"]')
                await page.wait_for_function(f"!document.querySelector('{item}')", timeout=5_000)
                assert errors == []
            finally:
                await browser.close()
