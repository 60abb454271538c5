"""Example sink: every event of the chosen kinds appended to a JSON-lines file, once.

The outbox delivers at least once: after a crash the event at the sink's
cursor may come again. This sink keeps the ids it has written, so a repeat is
skipped, and writes in a worker thread, so the event loop never waits on the
disk. Raising from ``deliver`` (a full disk) makes the core retry later.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.events.types import Event
from core.hookspecs import hookimpl


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = "events.jsonl"  # relative to the deployment's data folder
    kinds: list[str] = []  # e.g. ["parking.violation"]; empty: every kind
    enforcement_only: bool = False  # leave out events of areas still in education mode
    name: str = Field(default="jsonl", pattern=r"^[a-z][a-z0-9_\-]{0,63}$")


class JsonLinesSink:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        # no I/O here: check-config builds the plugin too
        self.config = config
        self.name = config.name
        self.path = context.data_dir / config.file
        self.written: set[str] | None = None  # event ids in the file, read on first delivery

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(self)

    def wanted(self, event: Event) -> bool:
        if self.config.kinds and event.kind not in self.config.kinds:
            return False
        return not (self.config.enforcement_only and event.mode != "enforcement")

    async def deliver(self, event: Event) -> None:
        if not self.wanted(event):
            return  # returning is accepting: the cursor moves on
        if self.written is None:
            self.written = await asyncio.to_thread(read_ids, self.path)
        if event.id in self.written:
            return  # delivered before a restart: at least once, written once
        await asyncio.to_thread(append, self.path, event.public())
        self.written.add(event.id)


def read_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                ids.add(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                pass  # a line torn by a crash: its event comes again and is written whole
    return ids


def append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())  # taken means on disk: the core moves the cursor when we return
