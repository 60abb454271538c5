"""Run by tests/test_events_outbox.py in its own process: events, outbox, filters and acks on PostgreSQL.

``python events_pg_probe.py DEPLOYMENT.toml``; prints ``postgresql: ok`` or fails an assertion.
"""

from __future__ import annotations

import asyncio
import sys

from support.events import FlakySink, RecordingSink, SinksPlugin, event, wait_until

from core.testing.app import add_user, bearer_headers, running_app
from core.config import load_file
from core.plugin_host import load_plugins


def host_with(cfg, *sinks):
    host = load_plugins(cfg)
    host.pm.register(SinksPlugin(*sinks), name="test_sinks")
    return host


async def main(path: str) -> None:
    cfg = load_file(path)
    assert cfg.deployment.database_url().startswith("postgres://")
    sink = FlakySink(failures=2)
    async with running_app(cfg, host=host_with(cfg, sink)) as (app, client):
        bus = app.state.services.events
        ids = [(await bus.publish(event("dcam", n=n, detail={"n": n, "plate": "KT 1234 AB"}))).id for n in range(4)]
        await wait_until(lambda: len(sink.got) == 4, what="delivered on PostgreSQL")
        assert [e.id for e in sink.got] == ids and sink.got[0].detail == {"n": 0, "plate": "KT 1234 AB"}
        assert sink.attempts == 6
        h = await bearer_headers(await add_user("dop", role="operator", agency="dishub"))
        listed = (await client.get("/api/events?since=2026-01-05T08:00:01Z&limit=2", headers=h)).json()
        assert [e["id"] for e in listed["events"]] == [ids[3], ids[2]] and listed["next_cursor"], listed
        page2 = (await client.get(f"/api/events?since=2026-01-05T08:00:01Z&cursor={listed['next_cursor']}", headers=h))
        assert [e["id"] for e in page2.json()["events"]] == [ids[1]]
        first = await asyncio.gather(*(client.post(f"/api/events/{ids[0]}/ack", headers=h) for _ in range(3)))
        assert sorted(r.status_code for r in first) == [200, 409, 409]
        assert [e["id"] for e in (await client.get("/api/events?acknowledged=true", headers=h)).json()["events"]] == ids[:1]
    # restart: the cursor held in PostgreSQL means nothing is sent twice
    again = RecordingSink("flaky")
    async with running_app(cfg, host=host_with(cfg, again)) as (app, _):
        last = await app.state.services.events.publish(event("dcam", n=9))
        await wait_until(lambda: again.got, what="the new event")
        await asyncio.sleep(0.3)
        assert [e.id for e in again.got] == [last.id]
    print("postgresql: ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
