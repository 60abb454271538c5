"""The sink conformance kit passes the example sink and names what a broken sink gets wrong."""

from __future__ import annotations

import asyncio
import json
import logging

from core.config import load_file
from core.plugin_host import PluginContext
from core.testing.sinks import check_sink, sample_event
from plugins.example_sink.plugin import Config, JsonLinesSink


async def test_the_example_sink_keeps_the_contract(make_deployment):
    d = make_deployment()
    context = PluginContext("example_sink", load_file(d.path).deployment, d.data_dir, logging.getLogger("kit"))
    assert await check_sink(lambda: JsonLinesSink(Config(file="kit.jsonl"), context)) == {}
    lines = [json.loads(line) for line in (d.data_dir / "kit.jsonl").read_text().splitlines()]
    # the first event three times (again, and to a new instance after a "restart"), five more, one in education mode
    assert len(lines) == len({x["id"] for x in lines}) == 7
    assert [x["detail"]["n"] for x in lines] == [0, 1, 2, 3, 4, 5, 10]
    assert lines[-1]["mode"] == "education" and sample_event(0).kind == lines[0]["kind"]


async def test_a_broken_sink_is_told_what_it_breaks():
    class Broken:
        name = "Broken Sink"

        def __init__(self):
            self.seen = set()

        async def deliver(self, event):
            if event.id in self.seen:
                raise KeyError("seen already")
            self.seen.add(event.id)
            if event.mode == "education":
                await asyncio.sleep(5)

    failed = await check_sink(Broken, timeout_s=0.5)
    assert set(failed) == {"shape", "repeat", "education"}
    assert failed["repeat"].endswith("raised KeyError: 'seen already'")
    assert failed["education"].endswith("took longer than 0.5 s")

    class Sync:
        name = "sync"

        def deliver(self, event):
            pass

    assert await check_sink(Sync) == {"shape": "deliver must be an async method"}
    assert "not a core.interfaces.Sink" in (await check_sink(object))["shape"]
