"""MQTT sink: how long ``deliver`` takes (the on-disk outbox), and how fast the outbox drains to a broker.

A real Mosquitto (``/usr/sbin/mosquitto``) on a free port and a real
subscriber (aiomqtt) counting what arrives. Measured: ``deliver``'s write to
the outbox (one committed ``put`` each, in a worker thread, as the sink does),
p50/p99; then the plugin's publisher draining ``--messages`` from the outbox
(up to 50 in flight, one commit per acknowledged run) until the subscriber has
them all, against the baseline of the simple design in the same run: one
message at a time, waiting for its acknowledgement and committing its removal
before the next.

    .venv/bin/python bench/mqtt.py --messages 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import aiomqtt  # noqa: E402

from common import final, free_port, percentile  # noqa: E402
from plugins.mqtt_events.config import Config  # noqa: E402
from plugins.mqtt_events.outbox import DiskOutbox  # noqa: E402
from plugins.mqtt_events.publisher import Publisher  # noqa: E402


def broker(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nlog_type error\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("mosquitto did not start")


async def fill(outbox: DiskOutbox, n: int, tag: str) -> list[float]:
    took = []
    for i in range(n):
        payload = json.dumps({"type": "new", "id": f"{tag}{i:012x}", "after": {"detail": {"dwell_s": 131.5}}}).encode()
        t = time.perf_counter()
        await asyncio.to_thread(outbox.put, f"{tag}{i:012x}", "bench/events", payload)
        took.append((time.perf_counter() - t) * 1000)
    return took


async def drain_pipelined(outbox: DiskOutbox, port: int) -> None:
    publisher = Publisher(Config(port=port, topic_prefix="bench"), outbox, dict, logging.getLogger("bench"))
    publisher.start()
    while outbox.depth:
        await asyncio.sleep(0.005)
    await publisher.stop()


async def drain_one_by_one(outbox: DiskOutbox, port: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        while batch := await asyncio.to_thread(outbox.head, 1):
            await client.publish(batch[0].topic, batch[0].payload, qos=1)
            await asyncio.to_thread(outbox.done, batch)


async def timed_drain(drain, outbox: DiskOutbox, port: int, n: int) -> float:
    got = 0
    ready = asyncio.Event()

    async def count() -> None:
        nonlocal got
        async with aiomqtt.Client("127.0.0.1", port) as sub:
            await sub.subscribe("bench/events", qos=1)
            ready.set()
            async for _ in sub.messages:
                got += 1
                if got == n:
                    return

    counter = asyncio.create_task(count())
    await ready.wait()
    t = time.perf_counter()
    await drain(outbox, port)
    await asyncio.wait_for(counter, 60)
    return time.perf_counter() - t


async def main(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = broker(Path(tmp))
        try:
            box = DiskOutbox(Path(tmp) / "outbox.sqlite3", 1_000_000, 1 << 30)
            box.open()
            put_ms = await fill(box, n, "a")
            pipelined = await timed_drain(drain_pipelined, box, port, n)
            box.close()
            box.open()  # the publisher closed nothing; reopen for the baseline's messages
            await fill(box, n, "b")
            one_by_one = await timed_drain(drain_one_by_one, box, port, n)
            box.close()
        finally:
            proc.terminate()
            proc.wait(5)
    out = {
        "messages": n,
        "deliver_p50_ms": round(percentile(put_ms, 0.5), 2),
        "deliver_p99_ms": round(percentile(put_ms, 0.99), 2),
        "drain_per_s": round(n / pipelined),
        "baseline_drain_per_s": round(n / one_by_one),
        "ratio_vs_baseline": round(one_by_one / pipelined, 2),
    }
    print(f"deliver (outbox put, committed): p50 {out['deliver_p50_ms']} ms, p99 {out['deliver_p99_ms']} ms")
    print(f"drain {n} messages to the subscriber: {out['drain_per_s']}/s pipelined (50 in flight), "
          f"{out['baseline_drain_per_s']}/s one at a time (baseline): x{out['ratio_vs_baseline']}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    final(asyncio.run(main(parser.parse_args().messages)))
