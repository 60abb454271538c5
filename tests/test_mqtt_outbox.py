"""The MQTT sink's on-disk outbox in the real app: full, it refuses (the core keeps the events and retries);
it outlives a restart of the app; once the broker is there every event arrives in order, once."""

from __future__ import annotations

from support.events import CAMERAS, event, wait_until
from support.mosquitto import Broker, health_when, needs_mosquitto, sink, subscriber
from support.violations import headers

from core.config import load_file
from plugins.mqtt_events.outbox import DiskOutbox
from core.testing.app import running_app

pytestmark = needs_mosquitto


async def test_a_full_outbox_refuses_and_the_outbox_outlives_the_app(make_deployment, tmp_path):
    broker = Broker(tmp_path / "mosquitto")  # not started yet: the broker is down
    cfg = load_file(make_deployment(CAMERAS + sink(broker.port, outbox_max_messages=3)).path)
    sent: list[str] = []
    async with running_app(cfg) as (app, client):
        admin = await headers("root", "admin", "dishub")
        bus = app.state.services.events
        for n in range(5):
            sent.append((await bus.publish(event("dcam", n=n))).id)
        sinks = app.state.services.events.sinks_health
        await wait_until(lambda: sinks()["mqtt"]["failed_attempts"] > 0, what="the sink refusing")
        r = (await client.get("/api/health", headers=admin)).json()
        mine = r["plugins"]["mqtt_events"]
        assert mine["status"] == "degraded" and "outbox full" in mine["reason"]
        outbox = mine["report"]["outbox"]
        assert (outbox["depth"], outbox["full"]) == (3, True) and outbox["refused"] >= 1
        # refused, not dropped: the core keeps the 4th and 5th in its database and retries them
        assert r["sinks"]["mqtt"]["status"] == "failing" and "mqtt outbox full" in r["sinks"]["mqtt"]["reason"]
        assert r["sinks"]["mqtt"]["lag"] == 2
    assert (tmp_path / "data" / "mqtt_events" / "outbox.sqlite3").exists()

    broker.start()
    try:
        async with subscriber(broker.port, "bconnect/events") as got:
            async with running_app(cfg) as (app, client):
                await wait_until(lambda: len(got.on("bconnect/events")) == 5, timeout=15, what="all five")
                assert got.event_ids("bconnect/events") == sent
                await wait_until(lambda: app.state.services.events.sinks_health()["mqtt"]["lag"] == 0, what="taken")
                health = await health_when(client, admin, lambda h: h["outbox"]["depth"] == 0, "outbox emptied")
                assert health["outbox"]["full"] is False  # the token of the first run still holds
            assert len(got.on("bconnect/events")) == 5  # each once
    finally:
        broker.stop()


async def test_a_message_the_broker_refuses_is_set_aside_and_the_rest_flows(make_deployment, tmp_path):
    """Mosquitto drops the connection on a message over its max_packet_size: without setting it aside the
    same message would lead every reconnection and nothing behind it would ever be published."""
    broker = Broker(tmp_path / "mosquitto", extra=("max_packet_size 2000",))
    broker.start()
    cfg = load_file(make_deployment(CAMERAS + sink(broker.port)).path)
    try:
        async with subscriber(broker.port, "bconnect/events") as got:
            async with running_app(cfg) as (app, client):
                admin = await headers("root", "admin", "dishub")
                bus = app.state.services.events
                small = (await bus.publish(event("dcam", n=1))).id
                big = (await bus.publish(event("dcam", n=2, detail={"note": "x" * 5000}))).id
                after = (await bus.publish(event("dcam", n=3))).id
                await wait_until(lambda: len(got.on("bconnect/events")) == 2, timeout=30, what="the two small ones")
                assert got.event_ids("bconnect/events") == [small, after]
                health = await health_when(client, admin, lambda h: h["outbox"]["held"] == 1, "one held")
                assert health["outbox"]["depth"] == 0
                assert "dropped the connection 3 times" in health["outbox"]["held_reason"]
                r = (await client.get("/api/health", headers=admin)).json()
                assert r["plugins"]["mqtt_events"]["status"] == "degraded"
                assert "set aside" in r["plugins"]["mqtt_events"]["reason"]
            assert big not in got.event_ids("bconnect/events")
        # kept on disk with its reason, and not queued again if the core offers its event once more
        outbox = DiskOutbox(tmp_path / "data" / "mqtt_events" / "outbox.sqlite3", 100, 1 << 20)
        outbox.open()
        try:
            assert (outbox.held, outbox.depth) == (1, 0) and "5" in outbox.held_reason
            assert outbox.put(big, "bconnect/events", b"{}") is False
        finally:
            outbox.close()
    finally:
        broker.stop()
