"""The live overlay draws what analytics see, in a real browser (Debian's chromium driven by Playwright).

Real footage (Debian's vtest.avi, converted to H.264 by set-up into data/footage/) plays as a camera;
the default detector (vision_onnx on CPU) and the tracker run on it for the parking rule. An operator
switches the overlay on over the live tile: the people's boxes are drawn with their track ids, and the
detector's latency is shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright
from support.api_users import make_tokens
from support.browser import GENERATED, launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FOOTAGE = Path(__file__).resolve().parent.parent / "data" / "footage" / "vtest.mp4"
TILE = '.tile[data-camera="plaza"]'


async def test_the_overlay_shows_tracked_boxes_and_the_detector_latency(make_deployment, start_server):
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} missing: scripts/setup.sh converts vtest.avi into it")
    dep = make_deployment(f"""
        [[plugins.stream_url.cameras]]
        id = "plaza"
        name = "Plaza (vtest.avi)"
        url = "{FOOTAGE}"
        loop = true
        agency = "dishub"
        area = "beruang_madu"

        [plugins.vision_onnx]
        providers = ["cpu"]

        [plugins.parking_rule]
        fps = 2
        """)
    tokens = await asyncio.to_thread(make_tokens, dep.path, [("ani", "operator", "dishub")])
    server = start_server(dep)
    api = httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {tokens['ani']}"})
    GENERATED.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(server.url + "/")
            await page.fill("#username", "ani")
            await page.fill("#password", "pw-ani-0123456789")  # as support.api_users makes them
            await page.click("button[type=submit]")
            await page.wait_for_selector(TILE, timeout=15_000)
            await page.wait_for_function(f"document.querySelector('{TILE} video').videoWidth > 0", timeout=30_000)
            await page.hover(TILE)
            await page.click(TILE + " .zones-overlay")
            overlay = TILE + " .zone-overlay"
            await page.wait_for_function(
                f"(document.querySelector('{overlay}').dataset.tracks || '0') > 0"
                f" && document.querySelector('{overlay}').dataset.detectMs !== ''", timeout=45_000)
            seen = api.get("/api/cameras/plaza/tracks").json()
            assert seen["detector"] == "vision_onnx" and seen["detect_ms"] > 0, seen
            people = [t for t in seen["tracks"] if t["label"] == "person"]
            assert people and all(0 <= v <= 1 for t in people for v in t["box"]), seen
            # a drawn box: the canvas is painted on the first tracked box's left edge, in the picture's rectangle
            first = next(t for t in seen["tracks"] if t["state"] == "tracked")
            painted = await page.evaluate(
                """([sel, box]) => {
                    const c = document.querySelector(sel);
                    const v = c.parentElement.querySelector('video');
                    const w = c.clientWidth, h = c.clientHeight, r = window.devicePixelRatio || 1;
                    const s = Math.min(w / v.videoWidth, h / v.videoHeight);
                    const ox = (w - v.videoWidth * s) / 2, oy = (h - v.videoHeight * s) / 2;
                    const x = ox + box[0] * v.videoWidth * s, y = oy + (box[1] + box[3]) / 2 * v.videoHeight * s;
                    const data = c.getContext('2d').getImageData(Math.round(x * r) - 2, Math.round(y * r) - 2, 5, 5).data;
                    let alpha = 0;
                    for (let i = 3; i < data.length; i += 4) alpha = Math.max(alpha, data[i]);
                    return alpha;
                }""",
                [overlay, first["box"]],
            )
            # the page may have drawn a newer frame's boxes meanwhile: a person seldom moves far in 0.5 s
            assert painted > 0, (painted, first)
            await page.screenshot(path=str(GENERATED / "tracks-overlay.png"))
            assert not errors, errors
        finally:
            await browser.close()
            api.close()
