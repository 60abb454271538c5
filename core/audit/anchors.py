"""Anchors: the chain's head (sequence, hash, time) written where an operator can copy it out.

An anchor proves what the chain held at a moment. Copied off the server (a
USB stick, a mail to the supervisor, a ticket), it lets ``bconnect audit
verify --anchors FILE`` notice what the chain alone cannot: the newest entries
deleted, or the whole chain rewritten from some entry on with fresh hashes.

The file, ``data_dir/audit/anchors.jsonl``, is opened for appending only and
synced after each line; a line is JSON: ``{"seq", "hash", "at", "written_at"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.audit import chain

log = logging.getLogger("bconnect.audit")

ANCHORS_FILE = Path("audit") / "anchors.jsonl"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str  # the anchored entry's time, as hashed
    written_at: str = ""

    def to_line(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at, "written_at": self.written_at})


class AnchorError(Exception):
    """An anchors file cannot be read; the message names the file and line."""


def anchors_path(data_dir: Path) -> Path:
    return Path(data_dir) / ANCHORS_FILE


async def current() -> Anchor | None:
    """The head as an anchor (not written anywhere), or ``None`` for an empty chain."""
    top = await chain.head()
    if top is None:
        return None
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Anchor(top.seq, top.entry_hash, chain.time_text(top.at), now)


def append_line(path: Path, anchor: Anchor) -> None:
    """Append one anchor and sync it to disk; blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (anchor.to_line() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[Anchor]:
    """Every anchor in the file, oldest first; :class:`AnchorError` names a bad line.

    A last line without its newline (the writer died mid-line) is skipped.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnchorError(f"{path}: cannot read: {exc.strerror}") from None
    out = []
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip() or (number == len(lines) and not text.endswith("\n")):
            continue
        try:
            data = json.loads(line)
            anchor = Anchor(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data.get("written_at", "")))
        except (ValueError, KeyError, TypeError):
            raise AnchorError(f"{path}:{number}: not an anchor line (expected JSON with seq, hash, at)") from None
        if anchor.seq < 1 or len(anchor.hash) != 64:
            raise AnchorError(f"{path}:{number}: not an anchor line (seq below 1 or a hash not of 64 hex digits)")
        out.append(anchor)
    return out


async def write(data_dir: Path) -> Anchor | None:
    """Append the current head to the data folder's anchors file, and log it; ``None`` for an empty chain."""
    anchor = await current()
    if anchor is None:
        return None
    path = anchors_path(data_dir)
    await asyncio.to_thread(append_line, path, anchor)
    log.info("audit anchor: entry %d, hash %s, written to %s", anchor.seq, anchor.hash, path)
    return anchor
