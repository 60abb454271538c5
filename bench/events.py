"""Events: how fast the core stores them, and how soon sinks and a live browser stream have them.

One process: the real app (SQLite under a temporary folder, or ``--database-url``)
served by uvicorn on a free port, a recording sink registered through
``bconnect_register_sinks``, and one server-sent-event client reading
``/api/events/stream`` over a real socket. Events are published through the
app's bus at ``--rate`` per second (0: back to back). Printed: publish time
(stored and committed), publish-to-sink and publish-to-stream delays, and
events per second stored back to back. The client shares the server's event
loop, so the stream delay includes its own parsing.

    .venv/bin/python bench/events.py --events 500 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from common import final, free_port, percentile  # noqa: E402
from core.app import create_app  # noqa: E402
from core.testing.app import add_user, bearer_headers  # noqa: E402
from core.config import load_file  # noqa: E402
from core.events.types import Event  # noqa: E402
from core.hookspecs import hookimpl  # noqa: E402
from core.plugin_host import load_plugins  # noqa: E402

DEPLOYMENT = """
[deployment]
name = "Events bench"

[server]
data_dir = "{data}"
{database}
[areas.a1]
name = "Area 1"
enabled = true

[agencies.dishub]
name = "Dishub"

[plugins.stream_url]
[[plugins.stream_url.cameras]]
id = "cam1"
name = "Bench camera"
url = "rtsp://127.0.0.1:1/none"
agency = "dishub"
area = "a1"
"""


class TimingSink:
    name = "bench"

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def deliver(self, event: Event) -> None:
        self.at[event.id] = time.perf_counter()


class BenchSinks:
    def __init__(self, sink: TimingSink) -> None:
        self.sink = sink

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(self.sink)


async def read_stream(url: str, headers: dict, seen: dict[str, float], ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=None) as client:
        async with client.stream("GET", "/api/events/stream", headers=headers) as r:
            ready.set()
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    body = json.loads(line[6:])
                    seen.setdefault(body["id"], time.perf_counter())


async def run(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bconnect-events-bench-"))
    database = f'database_url = "{args.database_url}"\n' if args.database_url else ""
    path = tmp / "deployment.toml"
    path.write_text(DEPLOYMENT.format(data=(tmp / "data").as_posix(), database=database))
    cfg = load_file(path)
    sink = TimingSink()
    host = load_plugins(cfg)
    host.pm.register(BenchSinks(sink), name="bench_sinks")
    app = create_app(cfg, host=host)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           timeout_graceful_shutdown=1))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    bus = app.state.services.events
    headers = {**await bearer_headers(await add_user("bench")), "accept": "text/event-stream"}
    seen: dict[str, float] = {}
    ready = asyncio.Event()
    reader = asyncio.create_task(read_stream(f"http://127.0.0.1:{port}", headers, seen, ready))
    await ready.wait()
    await asyncio.sleep(0.2)

    published: dict[str, float] = {}
    publish_ms: list[float] = []
    gap = 1.0 / args.rate if args.rate > 0 else 0.0
    start = time.perf_counter()
    for n in range(args.events):
        t0 = time.perf_counter()
        e = await bus.publish(Event(kind="bench.tick", camera_id="cam1", wall_time=datetime.now(timezone.utc),
                                    detail={"n": n, "note": "x" * 200}))
        t1 = time.perf_counter()
        published[e.id] = t0
        publish_ms.append((t1 - t0) * 1000)
        if gap:
            await asyncio.sleep(max(0.0, start + (n + 1) * gap - time.perf_counter()))
    stored_s = time.perf_counter() - start
    deadline = time.perf_counter() + 60
    while (len(sink.at) < args.events or len(seen) < args.events) and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    reader.cancel()
    server.should_exit = True
    await serving

    sink_ms = [(sink.at[i] - t) * 1000 for i, t in published.items() if i in sink.at]
    live_ms = [(seen[i] - t) * 1000 for i, t in published.items() if i in seen]
    return {
        "events": args.events,
        "rate": args.rate,
        "database": "postgresql" if args.database_url else "sqlite",
        "stored_per_s": round(args.events / stored_s, 1),
        "publish_p50_ms": round(percentile(publish_ms, 0.5), 2),
        "publish_p99_ms": round(percentile(publish_ms, 0.99), 2),
        "to_sink_p50_ms": round(percentile(sink_ms, 0.5), 2) if sink_ms else None,
        "to_sink_p99_ms": round(percentile(sink_ms, 0.99), 2) if sink_ms else None,
        "to_stream_p50_ms": round(percentile(live_ms, 0.5), 2) if live_ms else None,
        "to_stream_p99_ms": round(percentile(live_ms, 0.99), 2) if live_ms else None,
        "delivered": len(sink.at),
        "streamed": len(seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second; 0: back to back")
    parser.add_argument("--database-url", help="e.g. postgres://user@host:port/db (default: SQLite)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(args))
    print(f"{result['events']} events at {args.rate:g}/s on {result['database']}: "
          f"publish p50 {result['publish_p50_ms']} ms, p99 {result['publish_p99_ms']} ms; "
          f"to the sink p50 {result['to_sink_p50_ms']} ms, p99 {result['to_sink_p99_ms']} ms; "
          f"to the live stream p50 {result['to_stream_p50_ms']} ms, p99 {result['to_stream_p99_ms']} ms; "
          f"{result['stored_per_s']} stored/s")
    final(result)


if __name__ == "__main__":
    main()
