"""Debian's chromium driven by Playwright, as every browser test starts it.

Playwright's own browser download cannot work here, so the tests launch
``/usr/bin/chromium``. Screenshots go to ``tests/_generated/`` (not in git)
for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GENERATED = Path(__file__).resolve().parent.parent / "_generated"


async def launch_chromium(playwright):
    """A headless chromium from ``async with async_playwright() as p``; close it when done."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
