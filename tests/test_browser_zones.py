"""The zone editor and the zone overlay in a real browser: Debian's chromium driven by Playwright.

An operator opens the editor from a PTZ camera's tile, draws a zone on the
camera's snapshot by clicking its corners, names it, saves it, reloads the
page and finds it again; a self-intersecting polygon is refused with the
server's reason next to the corners. Then the zones overlay over the live tile
draws the zone of the preset the camera is on.

The PTZ camera is the ONVIF device EMULATOR of tests/support/onvif_emulator.py
(no camera firmware can run here); its stream is a real GStreamer RTSP server.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from support.api_users import make_tokens
from support.browser import GENERATED, launch_chromium
from support.onvif_emulator import OnvifEmulator

from core.testing.conformance import CAMERA_PASSWORD, CAMERA_USER

pytestmark = [pytest.mark.browser, pytest.mark.rtsp]

USERS = [("ani", "operator", "dishub"), ("vera", "viewer", "dishub")]
TILE = '.tile[data-camera="ptz-1"]'


@pytest.fixture
def ptz_camera(rtsp_camera):
    emu = OnvifEmulator(
        username=CAMERA_USER, password=CAMERA_PASSWORD,
        stream_uri=rtsp_camera.url("h264_gop1"), sub_stream_uri=rtsp_camera.url("h264"),
    ).start()
    yield emu
    emu.stop()


def deployment(make_deployment, emu: OnvifEmulator):
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
        """
    )


async def log_in(page: Page, url: str, user: str) -> None:
    await page.goto(url + "/")
    await page.fill("#username", user)
    await page.fill("#password", f"pw-{user}-0123456789")  # as support.api_users makes them
    await page.click("button[type=submit]")
    await page.wait_for_url("**/static/index.html", timeout=15_000)
    await page.wait_for_selector(TILE, timeout=15_000)


async def open_editor(page: Page) -> None:
    await page.hover(TILE)
    await page.click(TILE + " .zones-edit")
    await page.locator("#zones").wait_for(state="visible")
    await page.wait_for_selector("#zones[data-revision]")
    # the camera's snapshot under the drawing
    await page.wait_for_function("document.querySelector('#zones .zones-snapshot').naturalWidth > 0", timeout=20_000)


async def click_at(page: Page, fractions: list[tuple[float, float]]) -> None:
    box = await page.locator("#zones .zones-stage").bounding_box()
    for fx, fy in fractions:
        await page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


async def test_operator_draws_saves_and_sees_a_zone_and_its_overlay(make_deployment, start_server, ptz_camera):
    dep = deployment(make_deployment, ptz_camera)
    tokens = await asyncio.to_thread(make_tokens, dep.path, USERS)  # it runs its own event loop
    server = start_server(dep)
    api = httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {tokens['ani']}"})
    GENERATED.mkdir(exist_ok=True)

    async with async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await log_in(page, server.url, "ani")
            await open_editor(page)
            assert await page.eval_on_selector("#zones .zones-preset", "s => [...s.options].map(o => o.value)") == ["1", "2", "3"]
            await page.select_option("#zones .zones-preset", "2")

            # draw: New zone, four corners, close on the first corner; name, kind, hours
            await page.click("#zones .zones-new")
            corners = [(0.10, 0.60), (0.45, 0.55), (0.50, 0.95), (0.05, 0.95)]
            await click_at(page, corners)
            await page.click('#zones .zones-vertex[data-vertex="0"]')  # closes the polygon
            assert await page.text_content("#zones .zones-points-count") == "4 corners"
            await page.fill("#zones input[name=name]", "West kerb")
            await page.fill("#zones input[name=id]", "np-west")
            await page.select_option("#zones select[name=kind]", "no_parking")
            await page.fill("#zones input[name=windows]", "16:00-19:00")
            await page.click("#zones .zones-save")
            await page.wait_for_selector('#zones[data-revision="1"]')
            assert (await page.text_content("#zones .zones-status")).startswith("Saved: revision 1")
            await page.screenshot(path=str(GENERATED / "zones-editor.png"))

            stored = api.get("/api/cameras/ptz-1/zones").json()
            assert stored["revision"] == 1 and len(stored["zones"]) == 1
            zone = stored["zones"][0]
            assert (zone["id"], zone["name"], zone["kind"], zone["preset"], zone["windows"]) == (
                "np-west", "West kerb", "no_parking", "2", ["16:00-19:00"])
            for (x, y), (fx, fy) in zip(zone["points"], corners, strict=True):
                assert abs(x - fx) < 0.01 and abs(y - fy) < 0.01, zone["points"]

            # reload: the zone is there, on its preset only
            await page.reload()
            await page.wait_for_selector(TILE, timeout=15_000)
            await open_editor(page)
            await page.select_option("#zones .zones-preset", "1")
            assert await page.locator("#zones .zones-list li[data-zone]").count() == 0
            await page.select_option("#zones .zones-preset", "2")
            assert await page.locator("#zones .zones-list li[data-zone]").all_text_contents() == ["West kerbNo parking"]
            assert await page.locator('#zones polygon.zones-shape[data-zone="np-west"]').count() == 1

            # a polygon that crosses itself: the server's reason next to the corners, nothing saved
            await page.click("#zones .zones-new")
            await click_at(page, [(0.6, 0.2), (0.9, 0.5), (0.9, 0.2), (0.6, 0.5)])
            await page.click("#zones .zones-finish")
            await page.click("#zones .zones-save")
            error = page.locator('#zones .zones-field-error[data-field="points"]')
            await error.wait_for(state="visible")
            assert "intersects itself" in await error.text_content()
            assert "Not saved" in await page.text_content("#zones .zones-error")
            assert await page.locator("#zones .zones-list li.invalid").count() == 1
            assert api.get("/api/cameras/ptz-1/zones").json()["revision"] == 1
            await page.screenshot(path=str(GENERATED / "zones-invalid.png"))
            await page.click("#zones .zones-delete")
            await page.click("#zones .zones-close")
            await page.locator("#zones").wait_for(state="hidden")

            # the overlay: the zone appears over the live tile once the camera is on preset 2
            await page.hover(TILE)
            await page.click(TILE + " .zones-overlay")
            await page.wait_for_selector(TILE + ' .zone-overlay[data-zones="0"]')  # not on a preset yet
            assert api.post("/api/cameras/ptz-1/ptz/preset", json={"preset": "2"}).status_code == 200
            await page.wait_for_selector(TILE + ' .zone-overlay[data-zones="1"][data-preset="2"]', timeout=10_000)
            # the zone's inside is painted, its outside not (the picture's own rectangle, letterboxed)
            painted = await page.evaluate(
                """([sel, inside, outside]) => {
                    const c = document.querySelector(sel);
                    const v = c.parentElement.querySelector('video');
                    const w = c.clientWidth, h = c.clientHeight, r = window.devicePixelRatio || 1;
                    const s = Math.min(w / v.videoWidth, h / v.videoHeight);
                    const ox = (w - v.videoWidth * s) / 2, oy = (h - v.videoHeight * s) / 2;
                    const alpha = ([fx, fy]) => c.getContext('2d').getImageData(
                        Math.round((ox + fx * v.videoWidth * s) * r), Math.round((oy + fy * v.videoHeight * s) * r), 1, 1).data[3];
                    return [alpha(inside), alpha(outside)];
                }""",
                [TILE + " .zone-overlay", [0.27, 0.8], [0.8, 0.3]],
            )
            assert painted[0] > 0 and painted[1] == 0, painted
            await page.screenshot(path=str(GENERATED / "zones-overlay.png"))
            assert not errors, errors

            # a viewer sees the overlay button but not the editor's
            viewer = await browser.new_page(viewport={"width": 1200, "height": 800})
            await log_in(viewer, server.url, "vera")
            await viewer.hover(TILE)
            assert await viewer.locator(TILE + " .zones-overlay").is_visible()
            assert await viewer.locator(TILE + " .zones-edit").is_hidden()
        finally:
            await browser.close()
            api.close()
