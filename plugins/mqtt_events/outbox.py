"""The MQTT sink's on-disk outbox: messages waiting for the broker, in order, bounded, surviving a restart.

One SQLite file under the data folder (WAL, ``synchronous=FULL``: a message
``put`` has returned is on disk). ``queue`` holds the messages in the order
they were put; the publisher reads the head, publishes it at QoS 1 and, once
the broker has acknowledged it, removes it and remembers its event id in
``sent`` (the last ``SENT_KEEP``), so an event the core's outbox hands over
again (at least once, after a crash) is not published twice.

A message the broker keeps refusing (it drops the connection each time this
message is the first one not acknowledged, e.g. one over its
``max_packet_size``) would block every message behind it: the publisher sets
it aside with :meth:`DiskOutbox.hold` into ``held``, kept on disk with the
reason, counted in health, never published again and never queued again.

When full (``max_messages`` or ``max_bytes``) ``put`` refuses with
:class:`OutboxFull` instead of dropping anything: the sink's ``deliver`` raises
it, the core's outbox keeps the event in its database and retries it with
backoff, so a long outage costs nothing but a sink shown as failing.

Every method is blocking file I/O: call it from a worker thread
(``asyncio.to_thread``); a lock serialises the calls.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SENT_KEEP = 10_000  # event ids remembered after publishing; older repeats are published again

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sent (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    queued_at REAL NOT NULL,
    held_at REAL NOT NULL,
    reason TEXT NOT NULL
);
"""


class OutboxFull(Exception):
    """The outbox holds its maximum; the message was not taken."""


@dataclass(frozen=True)
class Queued:
    seq: int
    event_id: str
    topic: str
    payload: bytes
    queued_at: float

    @property
    def size(self) -> int:
        return len(self.topic.encode()) + len(self.payload)


class DiskOutbox:
    def __init__(self, path: Path, max_messages: int, max_bytes: int) -> None:
        self.path = path
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.depth = 0
        self.bytes = 0
        self.refused = 0  # puts turned away because it was full
        self.full = False  # the last put was turned away, and nothing was sent since
        self.held = 0  # messages set aside because the broker kept refusing them
        self.held_reason: str | None = None  # why the last one was
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            if self._db is not None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(topic AS BLOB)) + LENGTH(payload)), 0) FROM queue").fetchone()
            self.depth, self.bytes = int(count), int(size)
            self.held = int(db.execute("SELECT COUNT(*) FROM held").fetchone()[0])
            last = db.execute("SELECT reason FROM held ORDER BY held_at DESC LIMIT 1").fetchone()
            self.held_reason = last[0] if last else None
            self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"mqtt outbox {self.path} is not open")
        return self._db

    def put(self, event_id: str, topic: str, payload: bytes) -> bool:
        """Queue a message; ``False`` when its event is queued, published or held already; :class:`OutboxFull`."""
        size = len(topic.encode()) + len(payload)
        with self._lock:
            db = self._conn()
            seen = db.execute(
                "SELECT 1 FROM queue WHERE event_id = ? UNION ALL SELECT 1 FROM sent WHERE event_id = ?"
                " UNION ALL SELECT 1 FROM held WHERE event_id = ?",
                (event_id, event_id, event_id),
            ).fetchone()
            if seen:
                return False
            if self.depth + 1 > self.max_messages or self.bytes + size > self.max_bytes:
                self.refused += 1
                self.full = True
                raise OutboxFull(
                    f"mqtt outbox full: {self.depth} messages, {self.bytes} bytes "
                    f"(at most {self.max_messages} messages, {self.max_bytes} bytes)"
                )
            db.execute(
                "INSERT INTO queue (event_id, topic, payload, queued_at) VALUES (?, ?, ?, ?)",
                (event_id, topic, payload, time.time()),
            )
            self.depth += 1
            self.bytes += size
            self.full = False
            return True

    def head(self, limit: int) -> list[Queued]:
        """The oldest ``limit`` messages, oldest first."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT seq, event_id, topic, payload, queued_at FROM queue ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [Queued(seq, event_id, topic, bytes(payload), queued_at) for seq, event_id, topic, payload, queued_at in rows]

    def oldest_at(self) -> float | None:
        with self._lock:
            row = self._conn().execute("SELECT queued_at FROM queue ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None

    def done(self, messages: list[Queued]) -> None:
        """The broker acknowledged these: remove them, remember their events as sent (one commit)."""
        if not messages:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("DELETE FROM queue WHERE seq = ?", [(m.seq,) for m in messages])
                db.executemany("INSERT OR REPLACE INTO sent (event_id, seq) VALUES (?, ?)",
                               [(m.event_id, m.seq) for m in messages])
                db.execute("DELETE FROM sent WHERE seq <= ?", (messages[-1].seq - SENT_KEEP,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.depth -= len(messages)
            self.bytes -= sum(m.size for m in messages)
            self.full = False

    def hold(self, message: Queued, reason: str) -> None:
        """Set a message the broker keeps refusing aside (one commit): off the queue, kept with its reason."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                gone = db.execute("DELETE FROM queue WHERE seq = ?", (message.seq,)).rowcount
                if gone:
                    db.execute(
                        "INSERT OR REPLACE INTO held (seq, event_id, topic, payload, queued_at, held_at, reason)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (message.seq, message.event_id, message.topic, message.payload, message.queued_at, time.time(), reason),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if gone:
                self.depth -= 1
                self.bytes -= message.size
                self.held += 1
                self.held_reason = reason
                self.full = False
