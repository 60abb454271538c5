"""Every key of the camera (and patrol tour) plugins' config is documented in docs/configuration.md, and no other.

Walks each plugin's ``Config`` model (not a hand-kept list), so a new key
fails here until the reference explains it.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from plugins.accident_watch.config import Config as AccidentWatchConfig
from plugins.crime_watch.config import Config as CrimeWatchConfig
from plugins.dishub_cameras.plugin import Config as DishubConfig
from plugins.etle_rules.config import Config as EtleRulesConfig
from plugins.kejaksaan_export.config import Config as KejaksaanExportConfig
from plugins.motion_logger.plugin import Config as MotionLoggerConfig
from plugins.mqtt_events.config import Config as MqttEventsConfig
from plugins.onvif_camera.plugin import Config as OnvifConfig
from plugins.parking_rule.config import Config as ParkingRuleConfig
from plugins.patrol_tours.plugin import Config as PatrolToursConfig
from plugins.plate_reader.config import Config as PlateReaderConfig
from plugins.polri_etle.plugin import Config as PolriConfig
from plugins.stream_url.plugin import Config as StreamUrlConfig
from plugins.truth_detector.plugin import Config as TruthDetectorConfig
from plugins.vision_onnx.config import Config as VisionOnnxConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
PLUGINS = {
    "stream_url": StreamUrlConfig,
    "onvif_camera": OnvifConfig,
    "dishub_cameras": DishubConfig,
    "polri_etle": PolriConfig,
    "patrol_tours": PatrolToursConfig,
    "vision_onnx": VisionOnnxConfig,
    "motion_logger": MotionLoggerConfig,
    "parking_rule": ParkingRuleConfig,
    "truth_detector": TruthDetectorConfig,
    "plate_reader": PlateReaderConfig,
    "mqtt_events": MqttEventsConfig,
    "etle_rules": EtleRulesConfig,
    "kejaksaan_export": KejaksaanExportConfig,
    "accident_watch": AccidentWatchConfig,
    "crime_watch": CrimeWatchConfig,
}


def tables(model: type[BaseModel], table: str) -> dict[str, set[str]]:
    """``{table heading: {keys}}``, descending into arrays of tables and tables of tables."""
    out = {table: set(model.model_fields)}
    for name, field in model.model_fields.items():
        origin, args = typing.get_origin(field.annotation), typing.get_args(field.annotation)
        inner = table.strip("[]")
        if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            out.update(tables(args[0], f"[[{inner}.{name}]]"))
        elif origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            out.update(tables(args[1], f"[{inner}.{name}.<id>]"))
        elif inner.count(".") == 1 and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            # a sub-table of the plugin's own ([plugins.polri_etle.ticketing]); deeper models are inline values
            out.update(tables(field.annotation, f"[{inner}.{name}]"))
    return out


def documented(plugin: str) -> dict[str, set[str]]:
    """The keys of each table in the plugin's section, as its rows name them."""
    text = DOC.read_text()
    match = re.search(rf"^### `\[plugins\.{plugin}\]`\n(.*?)(?=^#{{1,3}} |\Z)", text, re.M | re.S)
    assert match, f"docs/configuration.md has no '### `[plugins.{plugin}]`' section"
    out: dict[str, set[str]] = {}
    table = f"[plugins.{plugin}]"
    for line in match.group(1).splitlines():
        heading = re.fullmatch(r"`(\[.+\])`:", line.strip())
        if heading:
            table = heading.group(1)
            continue
        row = re.match(r"\| ((?:`[^`]+`(?:, )?)+) \|", line)
        if row:
            out.setdefault(table, set()).update(re.findall(r"`([^`]+)`", row.group(1)))
    return out


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_every_plugin_key_is_documented_and_only_those(plugin):
    want = tables(PLUGINS[plugin], f"[plugins.{plugin}]")
    have = documented(plugin)
    assert set(have) == set(want), f"tables documented {sorted(have)}, config has {sorted(want)}"
    for table, keys in want.items():
        assert keys - have[table] == set(), f"{table}: undocumented keys {sorted(keys - have[table])}"
        assert have[table] - keys == set(), f"{table}: documented keys that do not exist {sorted(have[table] - keys)}"
