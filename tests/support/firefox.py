"""Debian's firefox-esr driven over WebDriver BiDi, for the browser tests.

Playwright's own Firefox cannot be downloaded here, and Playwright 1.65's
BiDi mode (``channel="moz-firefox"``) fails on firefox-esr 153 at
``new_page()``: it sends ``emulation.setMediaFeaturesOverride``, which this
Firefox answers with "unknown command". So the tests speak BiDi themselves:
start ``firefox-esr --headless --remote-debugging-port=0`` on a fresh
profile, read the websocket address it prints, and send a handful of
commands (navigate, evaluate, preload scripts, screenshot). Page errors arrive as
``log.entryAdded`` events.

The profile's ``user.js`` keeps Firefox off the network (no add-on, plugin
or update checks), in particular no download of Cisco's OpenH264 plugin.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import websockets

FIREFOX = "/usr/bin/firefox-esr"
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 30.0

# Nothing fetched from the internet, nothing shown on first run.
OFFLINE_PREFS: dict[str, Any] = {
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # Gecko Media Plugins: no update check, so no OpenH264 download
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.autoupdate": False,
    "media.gmp-widevinecdm.enabled": False,
}


class BidiError(RuntimeError):
    """A BiDi command that Firefox answered with an error, or a script that threw."""


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi remote value as Python: primitives, arrays and plain objects; other types as sent."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        v = remote["value"]
        return float(v) if isinstance(v, str) else v  # "NaN", "Infinity", "-0"
    if kind == "bigint":
        return int(remote["value"])
    if kind in ("array", "set"):
        return [_value(v) for v in remote.get("value", [])]
    if kind in ("object", "map"):
        return {k if isinstance(k, str) else _value(k): _value(v) for k, v in remote.get("value", [])}
    return remote


def _write_user_js(profile: Path, prefs: dict[str, Any]) -> None:
    lines = [f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


class Firefox:
    """One headless firefox-esr with one BiDi session and its first tab."""

    def __init__(self, proc: asyncio.subprocess.Process, ws: Any, log: deque[str]) -> None:
        self.proc = proc
        self.ws = ws
        self.log = log  # the browser's last stderr lines, for error messages
        self.context = ""  # the tab's browsing context id
        self.errors: list[str] = []  # uncaught page errors (log.entryAdded, level error)
        self._next_id = 0
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    future = self._pending.pop(msg["id"], None)
                    if future is not None and not future.done():
                        future.set_result(msg)
                elif msg.get("method") == "log.entryAdded":
                    entry = msg["params"]
                    if entry.get("type") == "javascript" and entry.get("level") == "error":
                        self.errors.append(entry.get("text", ""))
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BidiError("the BiDi connection closed"))

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command; its ``result``, or :class:`BidiError` with Firefox's message."""
        self._next_id += 1
        command_id = self._next_id
        future = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        await self.ws.send(json.dumps({"id": command_id, "method": method, "params": params or {}}))
        try:
            msg = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        finally:
            self._pending.pop(command_id, None)
        if msg.get("type") == "error":
            raise BidiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
        return msg["result"]

    async def goto(self, url: str) -> str:
        """Load ``url`` in the tab and wait for its load event; the URL it ended on."""
        result = await self.send("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})
        return result["url"]

    async def evaluate(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (a promise is awaited); its value as Python."""
        result = await self.send(
            "script.evaluate",
            {"expression": expression, "target": {"context": self.context}, "awaitPromise": True},
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"{details.get('text')} (in: {expression[:120]})")
        return _value(result["result"])

    async def call(self, function: str, *args: Any) -> Any:
        """Call the JavaScript ``function`` declaration with JSON-able ``args``; its value as Python."""
        call_args = [{"type": "string", "value": json.dumps(a)} for a in args]
        body = f"(...a) => ({function})(...a.map((s) => JSON.parse(s)))"
        result = await self.send(
            "script.callFunction",
            {"functionDeclaration": body, "arguments": call_args, "target": {"context": self.context},
             "awaitPromise": True},
        )
        if result["type"] == "exception":
            raise BidiError(f"{result['exceptionDetails'].get('text')} (in: {function[:120]})")
        return _value(result["result"])

    async def add_preload_script(self, function: str) -> None:
        """Run the JavaScript ``function`` declaration in every page loaded from now on, before the page's own scripts."""
        await self.send("script.addPreloadScript", {"functionDeclaration": function})

    async def url(self) -> str:
        return await self.evaluate("location.href")

    async def _element(self, selector: str) -> dict[str, str]:
        result = await self.send(
            "script.evaluate",
            {"expression": f"document.querySelector({json.dumps(selector)})", "target": {"context": self.context},
             "awaitPromise": False},
        )
        node = result.get("result", {})
        if node.get("type") != "node":
            raise BidiError(f"no element matches {selector!r}")
        return {"sharedId": node["sharedId"]}

    async def click(self, selector: str) -> None:
        """A real mouse click (BiDi input actions) in the middle of the element."""
        origin = {"type": "element", "element": await self._element(selector)}
        pointer = [{"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                   {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]
        await self.send("input.performActions", {"context": self.context,
                                                 "actions": [{"type": "pointer", "id": "mouse", "actions": pointer}]})

    async def type(self, selector: str, text: str) -> None:
        """Click into the element, then real key presses for each character of ``text``."""
        await self.click(selector)
        keys = [{"type": kind, "value": ch} for ch in text for kind in ("keyDown", "keyUp")]
        await self.send("input.performActions", {"context": self.context,
                                                 "actions": [{"type": "key", "id": "keyboard", "actions": keys}]})

    async def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        """Poll ``expression`` until it is truthy; its value. A page between loads counts as not yet."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = await self.evaluate(expression)
                if last:
                    return last
            except BidiError as exc:  # the page navigated away mid-evaluation
                last = exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} stayed {last!r} for {timeout} s")
            await asyncio.sleep(0.2)

    async def screenshot(self, path: Path) -> None:
        result = await self.send("browsingContext.captureScreenshot", {"context": self.context})
        path.write_bytes(base64.b64decode(result["data"]))

    async def set_viewport(self, width: int, height: int) -> None:
        await self.send("browsingContext.setViewport",
                        {"context": self.context, "viewport": {"width": width, "height": height}})

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("browser.close"), 5)
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _drain(stream: asyncio.StreamReader, log: deque[str], ready: asyncio.Future) -> None:
    """Keep reading the browser's stderr (so it never blocks on a full pipe); resolve ``ready`` with the ws URL."""
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        log.append(text)
        match = re.search(r"WebDriver BiDi listening on (ws://\S+)", text)
        if match and not ready.done():
            ready.set_result(match.group(1))
    if not ready.done():
        ready.set_exception(RuntimeError("firefox-esr exited before it listened:\n" + "\n".join(log)))


@contextlib.asynccontextmanager
async def launch_firefox(prefs: dict[str, Any] | None = None) -> AsyncIterator[Firefox]:
    """A headless firefox-esr on a fresh profile (:data:`OFFLINE_PREFS` plus ``prefs``), closed on exit."""
    profile = Path(tempfile.mkdtemp(prefix="bconnect-firefox-"))
    _write_user_js(profile, {**OFFLINE_PREFS, **(prefs or {})})
    env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_DISABLE_SAFE_MODE_KEY": "1"}
    env.pop("DISPLAY", None)
    proc = await asyncio.create_subprocess_exec(
        FIREFOX, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", str(profile),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    log: deque[str] = deque(maxlen=200)
    ready: asyncio.Future = asyncio.get_running_loop().create_future()
    drain = asyncio.create_task(_drain(proc.stderr, log, ready))
    browser: Firefox | None = None
    try:
        ws_url = await asyncio.wait_for(ready, START_TIMEOUT_S)
        ws = await websockets.connect(ws_url + "/session", max_size=64 * 1024 * 1024)
        browser = Firefox(proc, ws, log)
        await browser.send("session.new", {"capabilities": {}})
        await browser.send("session.subscribe", {"events": ["log.entryAdded"]})
        tree = await browser.send("browsingContext.getTree", {"maxDepth": 0})
        browser.context = tree["contexts"][0]["context"]
        yield browser
    finally:
        if browser is not None:
            await browser.close()
        elif proc.returncode is None:
            proc.kill()
            await proc.wait()
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        shutil.rmtree(profile, ignore_errors=True)
