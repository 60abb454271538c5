"""A real Mosquitto broker for tests (Debian's ``/usr/sbin/mosquitto``) and a real subscriber (aiomqtt).

The broker listens on 127.0.0.1 at a free port, anonymous, with a config in
the test's temporary folder. ``persistent=True`` keeps sessions and queued
messages in a file saved after every change (``autosave_on_changes``), so a
subscriber with a persistent session (``clean_session=False``) gets what was
published while it was away, even across a broker killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from core.testing.net import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

needs_mosquitto = pytest.mark.skipif(not os.access(MOSQUITTO, os.X_OK), reason="mosquitto is not installed")


class Broker:
    def __init__(self, folder: Path, persistent: bool = False, extra: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        # a slow subscriber must not lose what it has not taken yet (the default queue holds 1000)
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "log_dest stderr", "log_type error",
                 "max_queued_messages 0"]
        if os.geteuid() == 0:  # else it drops to user mosquitto, who may not read the test's folder
            lines.append("user root")
        if persistent:
            lines += ["persistence true", f"persistence_location {folder}/", "autosave_on_changes true",
                      "autosave_interval 1"]
        lines += extra
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        log = open(self.folder / "mosquitto.log", "ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.02)
        raise TimeoutError("mosquitto did not listen")

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, nothing saved that was not saved already."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def mosquitto(tmp_path):
    """A started broker; ``mosquitto.kill()`` / ``.start()`` restart it on the same port."""
    broker = Broker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@dataclass
class Received:
    """What a subscriber got: ``(topic, payload, retain)`` in arrival order."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    connections: int = 0

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == topic]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(p) for p in self.on(topic)]

    def event_ids(self, topic: str) -> list[str]:
        """The ids in arrival order, each once (subscribers drop a repeat by its id)."""
        seen: dict[str, None] = {}
        for m in self.json(topic):
            seen.setdefault(m["id"], None)
        return list(seen)


@contextlib.asynccontextmanager
async def subscriber(port: int, topic: str = "#", client_id: str | None = None) -> AsyncIterator[Received]:
    """A real subscriber at QoS 1 that reconnects on its own (a persistent session when given a client id)."""
    got = Received()
    subscribed = asyncio.Event()

    async def run() -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", port, identifier=client_id,
                                          clean_session=False if client_id else True, timeout=5) as client:
                    await client.subscribe(topic, qos=1)
                    got.connections += 1
                    subscribed.set()
                    async for m in client.messages:
                        got.messages.append((str(m.topic), bytes(m.payload), bool(m.retain)))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    task = asyncio.create_task(run())
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
        yield got
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def sink(port: int, **extra) -> str:
    """The ``[plugins.mqtt_events]`` table of a test deployment: this broker, quick retries, ``extra`` keys."""
    lines = ["[plugins.mqtt_events]", f"port = {port}", "reconnect_max_s = 0.3", "status_interval_s = 0.2"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def mqtt_health(client, h) -> dict:
    """The plugin's report in ``GET /api/health`` (``h``: an admin's headers)."""
    r = await client.get("/api/health", headers=h)
    return r.json()["plugins"]["mqtt_events"]["report"]


async def health_when(client, h, check, what: str, timeout: float = 10.0) -> dict:
    """The plugin's health report once ``check(report)`` holds (removal follows the broker's acknowledgement)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check(report := await mqtt_health(client, h)):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s: {report}")
        await asyncio.sleep(0.05)
    return report
