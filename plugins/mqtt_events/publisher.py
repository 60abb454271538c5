"""The connection to the broker: availability, camera status, and the outbox drained in order.

One task holds one connection at a time (``aiomqtt``, MQTT 3.1.1, clean
session: what is not yet acknowledged lives in the on-disk outbox, not in the
client). On each connection it publishes ``<prefix>/available`` ``online``
(retained; the last will says ``offline`` if the connection dies), every
camera's status (retained), then the outbox from its head: up to ``BATCH``
messages in flight at QoS 1, and only the acknowledged run at the head is
removed, so a broken connection resends from the first unacknowledged message
and the order holds. A lost connection is retried after a pause doubling up to
``reconnect_max_s``; the reason is kept for health. A message that was the
first unacknowledged one on ``POISON_AFTER`` lost connections in a row is set
aside (:meth:`DiskOutbox.hold`) so the rest flows.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from plugins.mqtt_events.config import Config
from plugins.mqtt_events.messages import status_message
from plugins.mqtt_events.outbox import DiskOutbox, Queued

BATCH = 50
ACK_TIMEOUT_S = 10.0  # no acknowledgement this long: the connection is taken for dead
POISON_AFTER = 3  # connections lost in a row with the same message first unacknowledged: it is set aside


@dataclass(frozen=True)
class Status:
    state: str
    reason: str | None
    since: float | None


class Publisher:
    def __init__(
        self,
        config: Config,
        outbox: DiskOutbox,
        statuses: Callable[[], dict[str, Status]],
        log: logging.Logger,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.statuses = statuses
        self.log = log
        self._password = password
        self._tls = tls
        self.prefix = config.topic_prefix
        self.connected = False
        self.since = time.time()  # of the current state (connected or not)
        self.reason: str | None = "not connected yet"
        self.published = 0  # outbox messages the broker acknowledged
        self.connections = 0
        self._sent_status: dict[str, Status] = {}
        self._suspect: tuple[int, int] | None = None  # (seq, sessions it was the first unacknowledged in)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def broker(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt_events:publisher")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace_s: float = 3.0) -> None:
        """Say ``offline`` (retained) and disconnect; what is still queued stays on disk for the next start."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=grace_s)
        if not done:  # still connecting to a broker that does not answer
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._down("stopped")

    # --- the connection ------------------------------------------------------------------

    async def _run(self) -> None:
        pause = 0.0
        while not self._stopping.is_set():
            if pause:
                try:
                    await asyncio.wait_for(self._stopping.wait(), pause)
                    return
                except TimeoutError:
                    pass
            before = self.connections
            try:
                await self._session()
                pause = 0.0
            except Exception as exc:  # the broker is away or refused us: keep the reason, try again
                self._down(f"{type(exc).__name__}: {exc}"[:300])
                # a connection that held starts the pauses afresh; failed attempts double them
                pause = 0.2 if self.connections > before else min(self.config.reconnect_max_s, max(0.2, pause * 2))

    def _client(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.config.host, self.config.port,
            username=self.config.username, password=self._password,
            identifier=self.config.client_id, clean_session=True, keepalive=self.config.keepalive_s,
            will=aiomqtt.Will(f"{self.prefix}/available", b"offline", qos=1, retain=True),
            tls_context=self._tls, tls_insecure=self.config.tls_insecure if self._tls else None,
            timeout=ACK_TIMEOUT_S,
        )
        client.pending_calls_threshold = BATCH + 10  # a batch in flight is intended: no warning for it
        return client

    async def _session(self) -> None:
        async with self._client() as client:
            await client.publish(f"{self.prefix}/available", b"online", qos=1, retain=True)
            self._sent_status = {}
            self._up()
            tasks = {
                asyncio.create_task(self._watch(client)),
                asyncio.create_task(self._drain(client)),
                asyncio.create_task(self._stopping.wait()),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()
            # stopping: a clean goodbye (the will is only sent when the connection dies)
            await client.publish(f"{self.prefix}/available", b"offline", qos=1, retain=True, timeout=2.0)
            self._down("stopped")

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Ends with ``MqttError`` when the connection drops (nothing is subscribed: no message comes)."""
        async for _ in client.messages:
            pass
        raise aiomqtt.MqttError("disconnected")

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            await self._publish_status(client)
            batch = await asyncio.to_thread(self.outbox.head, BATCH)
            if batch:
                await self._publish_batch(client, batch)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.status_interval_s)
            except TimeoutError:
                pass

    async def _publish_batch(self, client: aiomqtt.Client, batch: list[Queued]) -> None:
        # all in flight at once, sent in order on one connection; keep the acknowledged run at the head
        sends = [asyncio.create_task(client.publish(m.topic, m.payload, qos=1)) for m in batch]
        try:
            await asyncio.gather(*sends)
        finally:
            for s in sends:
                s.cancel()
            await asyncio.gather(*sends, return_exceptions=True)
            acked = 0
            for s in sends:
                if s.cancelled() or s.exception() is not None:
                    break
                acked += 1
            if acked:
                # shielded: even a cancelled drain records what the broker has, else it is sent again
                await asyncio.shield(asyncio.to_thread(self.outbox.done, batch[:acked]))
                self.published += acked
                self._suspect = None
            if acked < len(batch) and not self._stopping.is_set():
                await asyncio.shield(self._suspected(batch[acked]))

    async def _suspected(self, message: Queued) -> None:
        """The connection failed with ``message`` the first one unacknowledged; the POISON_AFTER-th time in a
        row it is set aside, so that one message the broker refuses (too big for it, say) cannot block the rest."""
        seq, times = self._suspect if self._suspect and self._suspect[0] == message.seq else (message.seq, 0)
        times += 1
        self._suspect = (seq, times)
        if times < POISON_AFTER:
            return
        reason = (f"the broker dropped the connection {times} times in a row with this message the first one "
                  f"unacknowledged ({message.size} bytes, topic {message.topic})")
        await asyncio.to_thread(self.outbox.hold, message, reason)
        self._suspect = None
        self.log.error("mqtt: event %s set aside, not published: %s", message.event_id, reason)

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        for camera_id, status in self.statuses().items():
            if self._sent_status.get(camera_id) == status:
                continue
            topic, payload = status_message(camera_id, status.state, status.reason, status.since, self.prefix)
            await client.publish(topic, payload, qos=1, retain=True)
            self._sent_status[camera_id] = status

    # --- state for health ----------------------------------------------------------------

    def _up(self) -> None:
        self.connected, self.since, self.reason = True, time.time(), None
        self.connections += 1
        self.log.info("mqtt: connected to %s", self.broker)

    def _down(self, reason: str) -> None:
        if self.connected or self.reason != reason:
            level = logging.INFO if reason == "stopped" else logging.WARNING
            self.log.log(level, "mqtt: not connected to %s: %s", self.broker, reason)
        if self.connected or self.reason is None:
            self.since = time.time()
        self.connected, self.reason = False, reason
