"""The example sink of docs/plugins.md works against the real outbox, and the guide shows the shipped code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.events import CAMERAS, event, wait_until

from core.testing.app import running_app
from core.config import ConfigErrors, load_file
from core.events.models import SinkCursor
from core.plugin_host import load_plugins

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
PLUGIN = ROOT / "plugins" / "example_sink"

SINK = """
[plugins.example_sink]
file = "archive/events.jsonl"
kinds = ["parking.violation"]
enforcement_only = true
"""


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_example_sink_writes_each_wanted_event_once(make_deployment):
    d = make_deployment(CAMERAS + SINK)
    cfg = load_file(d.path)
    out = d.data_dir / "archive" / "events.jsonl"
    async with running_app(cfg) as (app, _):
        bus = app.state.services.events
        wanted = await bus.publish(event("dcam", n=1, detail={"dwell_s": 140}))  # enforcement area
        await bus.publish(event("pcam", n=2))  # beller: education mode, left out
        await bus.publish(event("dcam", kind="crime.loitering", n=3))  # another kind, left out
        last = await bus.publish(event("dcam", n=4))
        await wait_until(lambda: len(lines(out)) == 2, what="two lines written")
        await wait_until(lambda: app.state.services.events.sinks_health()["jsonl"]["lag"] == 0, what="all taken")
    assert [(x["id"], x["kind"], x["mode"]) for x in lines(out)] == [
        (wanted.id, "parking.violation", "enforcement"), (last.id, "parking.violation", "enforcement")]
    assert lines(out)[0]["detail"] == {"dwell_s": 140}

    # at least once: the cursor goes back (as after a crash before it was saved); nothing is written twice
    async with running_app(cfg) as (app, _):
        await SinkCursor.filter(sink="jsonl").update(position=0)
    async with running_app(cfg) as (app, _):
        await wait_until(lambda: app.state.services.events.sinks_health()["jsonl"]["delivered"] == 4, what="redelivered")
    assert [x["id"] for x in lines(out)] == [wanted.id, last.id]


def test_example_sink_config_is_checked(make_deployment):
    d = make_deployment(CAMERAS + SINK + 'topic = "x"\n')
    with pytest.raises(ConfigErrors, match="topic"):
        load_plugins(load_file(d.path))


def test_guide_shows_the_shipped_sink():
    blocks = re.findall(r"```(\w*)\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert ("python", (PLUGIN / "plugin.py").read_text()) in blocks
    assert ("toml", (PLUGIN / "plugin.toml").read_text()) in blocks
    code_lines = [line for line in (PLUGIN / "plugin.py").read_text().splitlines() if line.strip()]
    assert len(code_lines) < 100  # the promise: a sink in under 100 lines
