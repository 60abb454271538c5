"""Violations: how long an officer's requests take, and how soon a violation event is in the queue.

One process: the real app on SQLite under a temporary folder (or ``--database-url``), requests
through its middleware in-process (httpx's ASGI transport, no socket). Printed: entering a violation,
one page of the review queue with ``--violations`` stored, verify and action (the hand-over to the
sinks included), and the delay from publishing a violation event to its violation existing (the
outbox's path).

    .venv/bin/python bench/violations.py --violations 1000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import final, percentile  # noqa: E402
from core.config import load_file  # noqa: E402
from core.events.types import Event  # noqa: E402
from core.testing.app import add_user, bearer_headers, running_app  # noqa: E402
from core.testing.deployment import deployment_toml  # noqa: E402
from core.violations.models import Violation  # noqa: E402

TABLES = """
[areas.a]
name = "A"
enabled = true

[agencies.city]
name = "City"

[plugins.stream_url]
[[plugins.stream_url.cameras]]
id = "cam"
name = "Bench"
url = "rtsp://127.0.0.1:1/none"
agency = "city"
area = "a"

[enforcement.ladder]
steps = [{ name = "teguran", after = 0 }, { name = "stiker", after = 1 }, { name = "derek", after = 3 }]

[enforcement.laws."parking.violation"]
law = "UU No. 22 Tahun 2009"
pasal = "287"
ayat = "3"
max_fine = 250000
"""


def ms(values: list[float]) -> str:
    return f"median {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deployment.toml"
        text = deployment_toml(Path(tmp) / "data", tables=TABLES)
        if args.database_url:
            text = text.replace("[server]\n", f'[server]\ndatabase_url = "{args.database_url}"\n', 1)
        path.write_text(text)
        async with running_app(load_file(path)) as (app, client):
            h = await bearer_headers(await add_user("bench", role="officer", agency="city"))
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
            created, listed, decided, flowed = [], [], [], []
            ids = []
            for n in range(args.violations):
                body = {"camera": "cam", "kind": "parking.violation", "plate": f"KT {n % 400} AB",
                        "wall_time": (start + timedelta(minutes=n)).isoformat()}
                t = time.perf_counter()
                r = await client.post("/api/violations", json=body, headers=h)
                created.append(time.perf_counter() - t)
                ids.append(r.json()["id"])
            for _ in range(50):
                t = time.perf_counter()
                r = await client.get("/api/violations?state=awaiting_review&limit=50", headers=h)
                listed.append(time.perf_counter() - t)
                assert r.status_code == 200 and len(r.json()["violations"]) == 50
            for vid in ids[: args.decide]:
                t = time.perf_counter()
                await client.post(f"/api/violations/{vid}/verify", json={}, headers=h)
                r = await client.post(f"/api/violations/{vid}/action", json={}, headers=h)
                decided.append(time.perf_counter() - t)
                assert r.json()["state"] == "handed_to_sink", r.text
            bus = app.state.services.events
            for n in range(args.events):
                t = time.perf_counter()
                e = await bus.publish(Event(kind="parking.violation", camera_id="cam", wall_time=start,
                                            detail={"plate": "KT 9 Z", "plate_confidence": 0.9, "n": n}))
                while not await Violation.filter(event_id=e.id).exists():
                    await asyncio.sleep(0.002)
                flowed.append(time.perf_counter() - t)
        print(f"enter a violation (POST): {ms(created)} ({args.violations} entered)")
        print(f"queue page of 50 with {args.violations} stored: {ms(listed)}")
        print(f"verify + action (hand-over included): {ms(decided)} ({args.decide} decided)")
        print(f"event published -> violation in the queue: {ms(flowed)} ({args.events} events)")
        series = (("enter", created), ("queue_page", listed), ("decide", decided), ("event_to_queue", flowed))
        final({name + suffix: round(percentile(values, q) * 1000, 1)
               for name, values in series for suffix, q in (("_p50_ms", 0.5), ("_p99_ms", 0.99))})


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--violations", type=int, default=1000)
    p.add_argument("--decide", type=int, default=200)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--database-url")
    asyncio.run(main(p.parse_args()))
