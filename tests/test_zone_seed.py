"""``[analytics] zone_files``: a deployment's zone files imported at start, for cameras without zones only (real SQLite)."""

from __future__ import annotations

import json

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from core.analytics.zone_seed import SEEDED_BY, seed_zones
from core.analytics.zone_store import ZoneStore
from core.analytics.zones import CameraZones, Zone
from core.storage import CORE_MODELS, close_database, open_database

SQUARE = [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]


def zone_file(camera: str, zone_id: str = "kerb") -> str:
    return json.dumps({"format": "bconnect.zones", "version": 1, "camera": camera,
                       "zones": [{"id": zone_id, "name": "Kerb", "kind": "no_parking", "points": SQUARE}]})


@pytest.fixture
async def store(tmp_path):
    EXECUTOR_CACHE.clear()
    await open_database(f"sqlite://{(tmp_path / 'bconnect.db').as_posix()}", [CORE_MODELS])
    try:
        store = ZoneStore("Asia/Makassar")
        await store.load_all()
        yield store
    finally:
        await close_database()


async def test_files_seed_cameras_without_zones_and_never_overwrite_an_operators(store, tmp_path):
    (tmp_path / "a.json").write_text(zone_file("cam-a"))
    (tmp_path / "b.json").write_text(zone_file("cam-b"))
    (tmp_path / "bad.json").write_text('{"format": "bconnect.zones", "version": 1, "camera": "cam-c", "nope": 1}')
    operator = Zone.model_validate({"id": "drawn", "name": "Drawn", "kind": "no_stopping", "points": SQUARE})
    await store.save(CameraZones(camera="cam-b", zones=(operator,)), base_version=0, by="ops")

    files = ["a.json", "b.json", "bad.json", "missing.json"]
    assert await seed_zones(store, files, tmp_path) == ["cam-a"]  # the bad and the missing file: logged, skipped
    assert [z.id for z in store.zones("cam-a", None)] == ["kerb"] and store.stored("cam-a").updated_by == SEEDED_BY
    assert [z.id for z in store.zones("cam-b", None)] == ["drawn"]  # the operator's zones stay
    assert store.version("cam-c") == 0
    assert await seed_zones(store, files, tmp_path) == []  # the next start imports nothing again
