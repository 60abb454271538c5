"""MQTT sink: events, violations and camera status published to a broker (docs/mqtt.md).

``deliver`` only writes the event's message to the on-disk outbox
(:mod:`plugins.mqtt_events.outbox`, a few milliseconds) and returns: the
core's cursor moves on at once, and the publisher
(:mod:`plugins.mqtt_events.publisher`) sends the outbox in order whenever the
broker is there. A broker outage therefore never shows as a failing sink
until the outbox is full; then ``deliver`` raises and the core's own outbox
holds the events (in its database) and retries, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from core.events.types import Event
from core.hookspecs import hookimpl
from plugins.mqtt_events.config import Config, read_password
from plugins.mqtt_events.messages import event_message, iso
from plugins.mqtt_events.outbox import DiskOutbox, OutboxFull
from plugins.mqtt_events.publisher import Publisher, Status

log = logging.getLogger("bconnect.plugin.mqtt_events")


class MqttEvents:
    Config = Config
    name = "mqtt"  # the sink's name: keys its cursor in the core's outbox

    def __init__(self, config: Config, context) -> None:
        # no I/O here: check-config builds the plugin too
        self.config = config
        self.data_dir = context.data_dir
        self.outbox = DiskOutbox(context.data_dir / config.outbox_file, config.outbox_max_messages, config.outbox_max_bytes)
        self.publisher: Publisher | None = None
        self.problem: str | None = None  # why there is no publisher (a password that cannot be read)
        self.stopped = False

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(self)

    @hookimpl
    async def bconnect_startup(self, services):
        await asyncio.to_thread(self.outbox.open)
        try:
            password, tls = await asyncio.to_thread(self.read_secrets)
        except (ValueError, OSError, ssl.SSLError) as exc:
            self.problem = str(exc)
            log.error("mqtt: not connecting to %s:%s: %s", self.config.host, self.config.port, exc)
            return  # events still go to the outbox, to be sent once the setting is fixed and the app restarted
        cameras = services.cameras

        def statuses() -> dict[str, Status]:
            out = {}
            for camera_id in cameras.ids():
                s = cameras.status(camera_id)
                if s is not None:
                    out[camera_id] = Status(s.state.value, s.reason, s.since)
            return out

        self.publisher = Publisher(self.config, self.outbox, statuses, log, password, tls)
        self.publisher.start()

    def read_secrets(self) -> tuple[str | None, ssl.SSLContext | None]:
        """The password and the TLS context (blocking: files); ``ValueError``/``OSError``/``SSLError`` say why not."""
        secret = read_password(self.config, self.data_dir)
        tls = None
        if self.config.tls:
            cafile = str(self.data_dir / self.config.tls_ca_file) if self.config.tls_ca_file else None
            tls = ssl.create_default_context(cafile=cafile)
            if self.config.tls_insecure:
                tls.check_hostname = False
        return (secret.get_secret_value() if secret else None), tls

    @hookimpl
    async def bconnect_shutdown(self, services):
        self.stopped = True
        if self.publisher is not None:
            await self.publisher.stop()
        await asyncio.to_thread(self.outbox.close)

    @hookimpl
    async def bconnect_health(self, services):
        p = self.publisher
        outbox = {
            "depth": self.outbox.depth,
            "bytes": self.outbox.bytes,
            "max_messages": self.outbox.max_messages,
            "max_bytes": self.outbox.max_bytes,
            "full": self.outbox.full,
            "refused": self.outbox.refused,
            "held": self.outbox.held,
            "held_reason": self.outbox.held_reason,
            "oldest": iso(await asyncio.to_thread(self._oldest)),
        }
        report = {
            "broker": f"{self.config.host}:{self.config.port}",
            "tls": self.config.tls,
            "connected": bool(p and p.connected),
            "since": iso(p.since) if p else None,
            "published": p.published if p else 0,
            "outbox": outbox,
        }
        if p is None:
            return {"status": "down", "reason": self.problem or "not started", **report}
        if self.outbox.held:
            return {"status": "degraded", "reason": f"{self.outbox.held} message(s) set aside: {self.outbox.held_reason}", **report}
        if self.outbox.full:
            return {"status": "degraded", "reason": f"outbox full; broker {report['broker']}: {p.reason}", **report}
        if not p.connected:
            return {"status": "degraded", "reason": f"broker {report['broker']} disconnected: {p.reason}", **report}
        return {"status": "ok", **report}

    def _put(self, event_id: str, topic: str, payload: bytes) -> bool:
        if self.stopped:
            raise RuntimeError("mqtt_events has stopped")  # the core keeps the event for the next start
        self.outbox.open()  # a no-op once open; a sink may be called before bconnect_startup (the conformance kit)
        return self.outbox.put(event_id, topic, payload)

    def _oldest(self) -> float | None:
        try:
            return self.outbox.oldest_at()
        except RuntimeError:  # not open
            return None

    # --- core.interfaces.Sink ----------------------------------------------------------------

    async def deliver(self, event: Event) -> None:
        if self.config.kinds and event.kind not in self.config.kinds:
            return  # returning is accepting: the cursor moves on
        topic, payload = event_message(event, self.config.topic_prefix, self.config.personal_data)
        try:
            queued = await asyncio.to_thread(self._put, event.id, topic, payload)
        except OutboxFull as exc:
            why = self.publisher.reason if self.publisher else self.problem
            raise OutboxFull(f"{exc}; broker {self.config.host}:{self.config.port}: {why or 'connected, draining'}") from None
        if queued and self.publisher is not None:
            self.publisher.wake()
