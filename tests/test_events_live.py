"""The live event stream over a real socket: server-sent events as a browser's EventSource reads them.

uvicorn serves the real app inside the test's event loop, so the test can
publish through the app's bus and read the stream with httpx at the same time.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from support.events import CAMERAS, event, served

from core.testing.app import add_user, bearer_headers
from core.app import create_app
from core.config import load_file
from core.events.live import Dropped, LiveHub, Message
from core.events.metrics import EventMetrics
from core.testing.net import free_port
from prometheus_client import CollectorRegistry


async def messages(response: httpx.Response):
    """Parse a text/event-stream into (event, id, data) triples, as EventSource does."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")


async def next_message(stream, timeout: float = 5.0):
    return await asyncio.wait_for(anext(stream), timeout)


@pytest.fixture
def cfg(make_deployment):
    return load_file(make_deployment(CAMERAS).path)


async def test_stream_pushes_visible_events_and_acks_and_replays_after_a_reconnect(cfg):
    app = create_app(cfg)
    async with served(app, free_port()) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        bus = app.state.services.events
        dishub = await bearer_headers(await add_user("dop", role="operator", agency="dishub"))
        sse = {**dishub, "accept": "text/event-stream"}
        async with client.stream("GET", "/api/events/stream", headers=sse) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            stream = messages(r)
            hidden = await bus.publish(event("pcam", n=1))  # polri's camera: dishub does not watch it
            shown = await bus.publish(event("dcam", n=2, priority="high"))
            kind, seq, body = await next_message(stream)
            assert (kind, body["id"], body["priority"], body["mode"]) == ("event", shown.id, "high", "enforcement")
            assert seq == str(body["seq"])

            ack = await client.post(f"/api/events/{shown.id}/ack", headers=dishub)
            assert ack.status_code == 200
            kind, seq, body = await next_message(stream)
            assert (kind, seq, body["id"], body["ack"]["by"]) == ("ack", None, shown.id, "dop")
        first_seq = int(body["seq"])

        # reconnecting with Last-Event-ID replays what was published meanwhile, visible ones only
        missed = [await bus.publish(event("dcam", n=n)) for n in (3, 4)]
        await bus.publish(event("pcam", n=5))
        async with client.stream("GET", "/api/events/stream", headers={**sse, "last-event-id": str(first_seq)}) as r:
            stream = messages(r)
            got = [(await next_message(stream))[2]["id"] for _ in missed]
            assert got == [e.id for e in missed]
            live = await bus.publish(event("dcam", n=6))
            assert (await next_message(stream))[2]["id"] == live.id
        assert hidden.id not in got
        # the closed streams are gone from the hub
        await asyncio.sleep(0.2)
        assert len(bus.live.subscribers) == 0


async def test_a_client_that_falls_behind_is_dropped_not_queued_without_bound():
    metrics = EventMetrics(CollectorRegistry())
    hub = LiveHub(metrics, maxsize=4)
    slow, fast = hub.subscribe(), hub.subscribe()
    got = []
    for n in range(10):
        hub.offer(Message("event", n, "dishub", {"n": n}))
        got.append((await fast.next()).body["n"])
    assert got == list(range(10))  # the reader that keeps up gets everything
    assert slow.dropped and slow.queue.qsize() == 4  # never more than its bound
    with pytest.raises(Dropped, match="fell behind by 4"):
        await slow.next()
    assert hub.subscribers == {fast}
    assert metrics.live_dropped._value.get() == 1 and metrics.live_clients._value.get() == 1


async def test_a_dropped_stream_says_so_and_ends(make_deployment):
    d = make_deployment(CAMERAS.replace("[events]\n", "[events]\nlive_queue = 2\n"))
    app = create_app(load_file(d.path))
    async with served(app, free_port()) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        bus = app.state.services.events
        h = {**await bearer_headers(await add_user("boss")), "accept": "text/event-stream"}
        async with client.stream("GET", "/api/events/stream", headers=h) as r:
            await asyncio.sleep(0.2)
            (sub,) = bus.live.subscribers
            # three messages arrive while the stream is busy: more than its queue holds
            for n in range(3):
                bus.live.offer(Message("event", 100 + n, "dishub", {"id": f"x{n}"}))
            assert sub.dropped
            kinds = [kind async for kind, _, _ in messages(r)]
        assert kinds[-1] == "dropped"  # and the response ended: EventSource reconnects with Last-Event-ID


async def test_a_stream_ends_when_its_user_is_disabled(cfg, monkeypatch):
    import core.events.api

    from core.auth import users

    monkeypatch.setattr(core.events.api, "HEARTBEAT_S", 0.3)
    app = create_app(cfg)
    async with served(app, free_port()) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        h = {**await bearer_headers(await add_user("leaver", role="operator", agency="dishub")),
             "accept": "text/event-stream"}
        async with client.stream("GET", "/api/events/stream", headers=h) as r:
            stream = messages(r)
            await asyncio.sleep(0.5)  # a heartbeat or two pass while the user is still valid
            assert len(app.state.services.events.live.subscribers) == 1
            await users.set_disabled("leaver", True, actor="test")
            kind, _, _ = await next_message(stream)
            assert kind == "logout"
        await asyncio.sleep(0.1)
        assert len(app.state.services.events.live.subscribers) == 0
