"""The MQTT sink in the real app against a real Mosquitto and a real subscriber: events, violations, camera
status, availability, and the broker killed mid-stream (tests/test_mqtt_outbox.py: a full outbox, a restart)."""

from __future__ import annotations

import json

from support.events import CAMERAS, event, wait_until
from support.mosquitto import (  # noqa: F401 (mosquitto: a fixture)
    Broker, health_when, mosquitto, mqtt_health, needs_mosquitto, sink, subscriber,
)
from support.violations import ENFORCEMENT, create, headers

from core.config import load_file
from core.testing.app import running_app

pytestmark = needs_mosquitto


async def test_events_violations_and_camera_status_reach_a_real_subscriber(make_deployment, mosquitto, monkeypatch,
                                                                          caplog):
    monkeypatch.setenv("BCONNECT_MQTT_PASSWORD", "never-shown-7")  # the broker is anonymous: it takes any
    cfg = load_file(make_deployment(
        CAMERAS + ENFORCEMENT + sink(mosquitto.port, username="bconnect", password_env="BCONNECT_MQTT_PASSWORD")).path)
    async with subscriber(mosquitto.port, "bconnect/#") as got:
        async with running_app(cfg) as (app, client):
            await wait_until(lambda: got.on("bconnect/available") == [b"online"], what="online")
            await wait_until(lambda: {"bconnect/dcam/status", "bconnect/pcam/status"} <= {t for t, _, _ in got.messages},
                             what="camera status")
            status = got.json("bconnect/dcam/status")[-1]
            assert status["camera"] == "dcam" and status["state"] in ("starting", "reconnecting", "offline", "error")

            bus = app.state.services.events
            seen = await bus.publish(event("dcam", n=1, detail={"dwell_s": 131.5, "class": "car"}))
            await wait_until(lambda: got.on("bconnect/events"), what="the event")
            [msg] = got.json("bconnect/events")
            assert (msg["type"], msg["id"], msg["after"]["id"]) == ("new", seen.id, seen.id)
            assert msg["after"]["camera"] == "dcam" and msg["after"]["label"] == "car"
            assert msg["after"]["detail"] == {"dwell_s": 131.5, "class": "car"} and msg["after"]["mode"] == "enforcement"

            h = await headers("pof", "officer", "pemkot")
            v = await create(client, h, plate="KT 1234 AB")
            await client.post(f"/api/violations/{v['id']}/verify", json={"officer_name": "Budi Santoso"}, headers=h)
            r = await client.post(f"/api/violations/{v['id']}/action", json={"note": "sticker"}, headers=h)
            assert r.json()["state"] == "handed_to_sink"
            await wait_until(lambda: got.on("bconnect/violations"), what="the violation")
            [raw] = got.on("bconnect/violations")
            verified = json.loads(raw)
            assert verified["type"] == "verified" and verified["after"]["kind"] == "violation.verified"
            detail = verified["after"]["detail"]
            assert detail["violation_id"] == v["id"] and detail["legal"]["pasal"] == "287"
            assert b"KT1234AB" not in raw and b"Budi" not in raw and b"pof" not in raw  # no personal data
            assert not {"plate", "officer_name", "decided_by"} & set(detail)
            stored = (await bus.get(verified["id"])).event.detail  # what was left out was there
            assert stored["plate"] == "KT1234AB" and stored["decided_by"] == "pof"

            admin = await headers("root", "admin", "dishub")
            health = await health_when(client, admin, lambda h: h["published"] == 2, "both acknowledged")
            assert health["connected"] is True and health["outbox"]["depth"] == 0
            everything = (await client.get("/api/health", headers=admin)).text + caplog.text
            assert "never-shown-7" not in everything
        # a clean stop says offline (retained); the messages were sent once each
        await wait_until(lambda: got.on("bconnect/available")[-1:] == [b"offline"], what="offline")
        assert len(got.on("bconnect/events")) == 1 and len(got.on("bconnect/violations")) == 1

    # a subscriber that comes later gets the retained availability and status
    async with subscriber(mosquitto.port, "bconnect/+/status") as late:
        await wait_until(lambda: late.on("bconnect/dcam/status"), what="retained status")
        assert all(retain for _, _, retain in late.messages)
    async with subscriber(mosquitto.port, "bconnect/available") as late:
        await wait_until(lambda: late.on("bconnect/available") == [b"offline"], what="retained availability")


async def test_broker_killed_mid_stream_every_message_arrives_in_order(make_deployment, tmp_path):
    broker = Broker(tmp_path / "mosquitto", persistent=True)
    broker.start()
    cfg = load_file(make_deployment(CAMERAS + sink(broker.port)).path)
    sent: list[str] = []
    try:
        # a persistent session: the broker keeps the subscription (and its queue) across its own crash
        async with subscriber(broker.port, "bconnect/events", client_id="watcher") as got:
            async with running_app(cfg) as (app, client):
                admin = await headers("root", "admin", "dishub")
                bus = app.state.services.events
                for n in range(12):
                    sent.append((await bus.publish(event("dcam", n=n))).id)
                await wait_until(lambda: len(got.event_ids("bconnect/events")) >= 6, what="the stream under way")
                await wait_until((tmp_path / "mosquitto" / "mosquitto.db").exists, what="the broker's sessions saved")
                broker.kill()
                for n in range(12, 24):
                    sent.append((await bus.publish(event("dcam", n=n))).id)
                await wait_until(lambda: app.state.services.events.sinks_health()["mqtt"]["lag"] == 0, what="taken")
                await health_when(client, admin, lambda h: not h["connected"] and h["outbox"]["depth"] > 0, "queued")
                r = await client.get("/api/health", headers=admin)
                mine = r.json()["plugins"]["mqtt_events"]
                assert mine["status"] == "degraded" and "disconnected" in mine["reason"]
                assert r.json()["sinks"]["mqtt"]["status"] == "ok"  # the core's outbox is not held up

                broker.start()
                for n in range(24, 30):
                    sent.append((await bus.publish(event("dcam", n=n))).id)
                await wait_until(lambda: len(got.event_ids("bconnect/events")) == 30, timeout=20, what="all 30")
                assert got.event_ids("bconnect/events") == sent  # in order, none lost
                health = await health_when(client, admin, lambda h: h["outbox"]["depth"] == 0, "outbox emptied")
                assert health["connected"] is True
    finally:
        broker.stop()

