"""Debian's chromium driven by Playwright, as every browser test starts it; and what any browser test reads.

Playwright's own browser download cannot work here, so the tests launch
``/usr/bin/chromium``. Screenshots go to ``tests/_generated/`` (not in git)
for a person to look at.

:func:`video_stats` and :func:`wait_frames` work in any browser: they take the
driver's way of calling a JavaScript function (Playwright's ``page.evaluate``,
``support.firefox.Firefox.call``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

RunJs = Callable[[str], Awaitable[Any]]

# the grid's tiles' peer connections (``window.bconnect.peers()``), read through getStats()
VIDEO_STATS = """async () => {
  const out = [];
  for (const { cameraId, pc } of window.bconnect.peers()) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out.push({ cameraId, state: pc.connectionState, framesDecoded: s.framesDecoded || 0,
                   frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0 });
      }
    });
  }
  return out;
}"""

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


async def video_stats(run_js: RunJs, camera_id: str) -> dict:
    """The inbound video of ``camera_id``'s tile: frames decoded, size, connection state."""
    for s in await run_js(VIDEO_STATS):
        if s["cameraId"] == camera_id:
            return s
    return {"framesDecoded": 0, "frameWidth": 0, "frameHeight": 0, "state": "none"}


async def wait_frames(run_js: RunJs, camera_id: str, more_than: int, timeout: float) -> dict:
    """Wait until the tile has decoded more than ``more_than`` frames; its stats then."""
    deadline = time.monotonic() + timeout
    while True:
        s = await video_stats(run_js, camera_id)
        if s["framesDecoded"] > more_than:
            return s
        if time.monotonic() > deadline:
            raise TimeoutError(f"framesDecoded stayed {s['framesDecoded']} (wanted > {more_than}); {s}")
        await asyncio.sleep(0.25)
