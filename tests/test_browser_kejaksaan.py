"""The prosecutor's page in a real browser (Debian's chromium driven by Playwright): export now, follow
the batch's progress to 100 %, see the cases, record a court decision. Cases are put straight into the
export's table with real evidence files (the workflow's path to them is tests/test_kejaksaan_export.py).
A screenshot goes to tests/_generated/.
"""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright
from support.browser import GENERATED, launch_chromium
from support.events import served
from support.kejaksaan import KEJAKSAAN_DEPLOYMENT
from test_kejaksaan_batches import seed

from core.app import create_app
from core.config import load_file
from core.testing.app import add_user
from core.testing.net import free_port
from plugins.kejaksaan_export.models import ExportCase

pytestmark = [pytest.mark.browser]
PASSWORD = "a-long-test-password-1"


async def test_the_prosecutor_exports_follows_the_progress_and_records_a_decision(make_deployment):
    dep = make_deployment(KEJAKSAAN_DEPLOYMENT)
    app = create_app(load_file(dep.path))
    async with served(app, free_port()) as url, async_playwright() as p:
        await add_user("jaksa", PASSWORD, role="prosecutor", agency="kejaksaan")
        await seed(dep.data_dir, 60, size=16 * 1024)
        browser = await launch_chromium(p)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(url + "/login?next=/api/kejaksaan_export/page")  # the log-in form, then the page
            await page.fill("#username", "jaksa")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(lambda u: u.startswith(url + "/api/kejaksaan_export/page"), timeout=15_000)
            await page.wait_for_function("document.getElementById('waiting').textContent === '60'", timeout=15_000)
            await page.click("#export-now")
            await page.wait_for_function(
                "[...document.querySelectorAll('#exports tr')].some(r => r.textContent.includes('complete')"
                " && r.querySelector('progress').value === 1 && r.textContent.includes('100%'))", timeout=30_000)
            # the cases table is drawn just after the exports table: wait for it to show the batch too
            await page.wait_for_function(
                "document.querySelectorAll('#cases tr').length === 60 && [...document.querySelectorAll('#cases tr')]"
                ".every(r => r.children[5].textContent === 'sent')", timeout=15_000)

            await page.fill("input[name=violation_id]", "7")
            await page.fill("input[name=fine]", "99000")
            await page.fill("input[name=court_fee]", "1000")
            await page.fill("input[name=subsidiary_days]", "2")
            await page.fill("input[name=decided_on]", "2026-01-09")
            await page.click("#result-form button[type=submit]")
            await page.wait_for_function("document.getElementById('banner').textContent.includes('BC-000007: decided')",
                                         timeout=15_000)
            case = await ExportCase.get(violation_id=7)
            assert (case.fine, case.court_fee, case.subsidiary_days, case.result_by) == (99000, 1000, 2, "jaksa")
            GENERATED.mkdir(exist_ok=True)
            await page.screenshot(path=str(GENERATED / "kejaksaan-page.png"), full_page=True)

            # the live view's top bar links the page for this user (bconnect_register_pages)
            await page.goto(url + "/")
            link = page.locator("#page-kejaksaan_export")
            await link.wait_for(timeout=15_000)
            assert await link.get_attribute("href") == "/api/kejaksaan_export/page"
            await link.click()
            await page.wait_for_url(url + "/api/kejaksaan_export/page", timeout=15_000)
            assert errors == []
        finally:
            await browser.close()
