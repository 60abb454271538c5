"""The process draining the MQTT outbox is killed with SIGKILL part-way: after a restart every message arrives,
in order, and only what was in flight at the crash comes twice (subscribers drop it by the event id)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support.events import wait_until
from support.mosquitto import mosquitto, needs_mosquitto, subscriber  # noqa: F401 (fixture)

from plugins.mqtt_events.outbox import DiskOutbox
from plugins.mqtt_events.publisher import BATCH

pytestmark = needs_mosquitto

ROOT = Path(__file__).resolve().parent.parent
N = 2000


def drain(outbox: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "mqtt_drain.py"), str(outbox), str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def depth(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]


async def test_a_drain_killed_part_way_finishes_after_restart_in_order(tmp_path, mosquitto):
    path = tmp_path / "outbox.sqlite3"
    box = DiskOutbox(path, 100_000, 64 << 20)
    box.open()
    box.close()
    ids = [f"{n:016x}" for n in range(N)]
    with sqlite3.connect(path) as db:  # the outbox as the app left it: one transaction, not N fsyncs
        db.executemany("INSERT INTO queue (event_id, topic, payload, queued_at) VALUES (?, 'crash/events', ?, ?)",
                       [(i, json.dumps({"type": "new", "id": i}).encode(), time.time()) for i in ids])

    async with subscriber(mosquitto.port, "crash/#") as got:
        first = drain(path, mosquitto.port)
        try:
            await wait_until(lambda: len(got.on("crash/events")) >= N // 10, timeout=30, what="the drain under way")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(5)
        left = depth(path)
        assert 0 < left < N, f"killed with {left} of {N} left: not part-way"
        await wait_until(lambda: got.on("crash/available")[-1:] == [b"offline"], what="the last will")

        second = drain(path, mosquitto.port)
        assert second.wait(60) == 0, second.stdout.read().decode()[-2000:]
        await wait_until(lambda: len(got.event_ids("crash/events")) == N, timeout=15, what="every message")
        assert got.event_ids("crash/events") == ids  # in order, none lost
        repeats = len(got.on("crash/events")) - N
        print(f"killed with {left} of {N} left; {repeats} repeated")
        assert 0 <= repeats <= BATCH  # only the batch in flight at the crash
        assert got.on("crash/available") == [b"online", b"offline", b"online", b"offline"]
    assert depth(path) == 0
