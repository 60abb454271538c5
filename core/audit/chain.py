"""The audit log as a hash chain: each entry carries the hash of the one before.

Entry ``seq`` (1, 2, 3 ... without gaps) stores ``prev_hash``, the
``entry_hash`` of entry ``seq - 1`` (:data:`GENESIS` for entry 1), and its own
``entry_hash``: the SHA-256 of :func:`canonical`, a JSON array of sequence
number, time, actor, action, target, detail, address and previous hash.
Changing any field, or removing, inserting or moving an entry, breaks a hash
or a link that ``core.audit.verify`` names.

One writer at a time: an append reads the head and inserts ``seq + 1`` in one
transaction, and ``seq`` is unique, so two writers (two requests, or the
server and a ``bconnect users`` command) can never both write entry N; the
loser retries on the new head. PostgreSQL appends also take a transaction
advisory lock so that they queue rather than retry. A process killed mid-append
leaves its transaction uncommitted: the entry is absent, never half written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from core.models import AuditEntry

GENESIS = "0" * 64
ATTEMPTS = 50  # appends that lost the race for the next number, before giving up
PG_LOCK_KEY = 0x62636F6E6E656374  # "bconnect": the advisory lock of the chain's head
# made once: json.dumps with options builds an encoder per call
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
LIMITS = {"actor": 128, "action": 64, "target": 128, "detail": 2000, "address": 64}


@dataclass(frozen=True)
class Head:
    seq: int
    entry_hash: str
    at: datetime


def clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 1] + "…"


def time_text(at: datetime) -> str:
    """The entry's time as hashed: UTC, microseconds (what both databases keep)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    seq: int, at: datetime, actor: str, action: str, target: str, detail: str, address: str, prev_hash: str
) -> bytes:
    """The bytes an entry's hash is taken over: unambiguous (JSON), the same on every database."""
    fields = [seq, time_text(at), actor, action, target, detail, address, prev_hash]
    return _JSON.encode(fields).encode()


def hash_of(seq: int, at: datetime, actor: str, action: str, target: str, detail: str, address: str, prev: str) -> str:
    return hashlib.sha256(canonical(seq, at, actor, action, target, detail, address, prev)).hexdigest()


def row_hash(row: Any, seq: int | None = None) -> str:
    """The hash ``row`` should carry (as entry ``seq``, by default its own)."""
    return hash_of(
        row.seq if seq is None else seq, row.at, row.actor, row.action, row.target, row.detail, row.address,
        row.prev_hash,
    )


async def head() -> Head | None:
    """The newest chained entry, or ``None`` while the log is empty."""
    row = await AuditEntry.filter(seq__not_isnull=True).order_by("-seq").first()
    return Head(row.seq, row.entry_hash, row.at) if row is not None else None


async def append(actor: str, action: str, target: str = "", detail: str = "", address: str = "") -> AuditEntry:
    """Append one entry after the current head; retried when another writer got there first."""
    values = {"actor": actor, "action": action, "target": target, "detail": detail, "address": address}
    values = {key: clip(value, LIMITS[key]) for key, value in values.items()}
    for attempt in range(ATTEMPTS):
        try:
            async with in_transaction() as conn:
                if conn.capabilities.dialect == "postgres":
                    await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [PG_LOCK_KEY])
                last = await AuditEntry.filter(seq__not_isnull=True).using_db(conn).order_by("-seq").first()
                seq = last.seq + 1 if last is not None else 1
                prev = last.entry_hash if last is not None else GENESIS
                at = datetime.now(UTC)
                digest = hash_of(
                    seq, at, values["actor"], values["action"], values["target"], values["detail"],
                    values["address"], prev,
                )
                return await AuditEntry.create(
                    using_db=conn, at=at, seq=seq, prev_hash=prev, entry_hash=digest, **values
                )
        except (IntegrityError, OperationalError) as exc:
            # another process appended entry `seq` (or holds SQLite's write lock): read the new head
            if attempt == ATTEMPTS - 1 or not _lost_race(exc):
                raise
            await asyncio.sleep(random.uniform(0.001, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")


def _lost_race(exc: Exception) -> bool:
    text = str(exc).lower()
    if isinstance(exc, IntegrityError):
        return "seq" in text  # the unique number, not some other constraint
    return "locked" in text or "busy" in text


async def chain_unsealed(client: Any) -> int:
    """Chain the entries written before the chain existed (``seq`` empty), in ``id`` order; raw SQL.

    Run by migration ``0004_audit_chain`` on the connection it migrates with
    (the ORM is not up yet then). Returns how many entries it chained.
    """
    postgres = client.capabilities.dialect == "postgres"

    def ph(i: int) -> str:
        return f"${i}" if postgres else "?"

    top = await client.execute_query_dict(
        "SELECT seq, entry_hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
    )
    seq, prev = (top[0]["seq"], top[0]["entry_hash"]) if top else (0, GENESIS)
    rows = await client.execute_query_dict(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log WHERE seq IS NULL ORDER BY id"
    )
    for row in rows:
        seq += 1
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(str(row["at"]))
        digest = hash_of(seq, at, row["actor"], row["action"], row["target"] or "", row["detail"] or "",
                         row["address"] or "", prev)
        await client.execute_query(
            f"UPDATE audit_log SET seq = {ph(1)}, prev_hash = {ph(2)}, entry_hash = {ph(3)} WHERE id = {ph(4)}",
            [seq, prev, digest, row["id"]],
        )
        prev = digest
    return len(rows)
