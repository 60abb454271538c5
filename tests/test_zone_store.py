"""The zone store on a real database, SQLite and PostgreSQL: save, reload, revisions, conflicts, reading for rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from support.postgres import postgres_url  # noqa: F401  (fixture)

from core.analytics.zone_store import ZoneConflict, ZoneStore
from core.analytics.zones import CameraZones, Zone
from core.models import ZoneRow
from core.services import ZoneDirectory, _Zones
from core.storage import CORE_MODELS, close_database, open_database

WITA = "Asia/Makassar"


def zone(zone_id: str, preset: str | None = "p1", **extra) -> Zone:
    body = {"id": zone_id, "name": zone_id.title(), "kind": "no_parking", "preset": preset,
            "points": [[0.1, 0.5], [0.4, 0.5], [0.4, 0.9], [0.1, 0.9]]} | extra
    return Zone.model_validate(body)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite://{(tmp_path / 'bconnect.db').as_posix()}"
    else:
        url = request.getfixturevalue("postgres_url")
    # tortoise caches each model's INSERT statement by connection name, not by dialect: after
    # an SQLite run in this process, PostgreSQL would get SQLite's "?" placeholders
    EXECUTOR_CACHE.clear()
    await open_database(url, [CORE_MODELS])
    try:
        yield url
    finally:
        await close_database()


async def test_save_reload_revisions_and_conflicts(database):
    store = ZoneStore(WITA)
    assert store.stored("cam-1").version == 0 and store.zones("cam-1", "p1") == ()

    first = CameraZones(camera="cam-1", zones=(zone("np-west", windows=["16:00-19:00"]), zone("yard", "p2")))
    saved = await store.save(first, base_version=0, by="ani")
    assert (saved.version, saved.updated_by) == (1, "ani")

    # a new store (a restarted server) reads the same zones back, in order, equal to what was saved
    again = ZoneStore(WITA)
    await again.load_all()
    assert again.stored("cam-1").zones == first
    assert (again.version("cam-1"), again.stored("cam-1").updated_by) == (1, "ani")
    assert [z.id for z in again.zones("cam-1", "p1")] == ["np-west"]
    assert await ZoneRow.filter(camera_id="cam-1", preset="p2").count() == 1  # indexed per preset

    # a save based on an older revision is refused with the reason; nothing changes
    second = CameraZones(camera="cam-1", zones=(zone("np-east"),))
    assert (await again.save(second, base_version=1, by="budi")).version == 2
    with pytest.raises(ZoneConflict) as refused:
        await store.save(CameraZones(camera="cam-1"), base_version=1, by="ani")
    assert refused.value.current == 2
    assert "at version 2, the edit was based on version 1" in refused.value.reason
    with pytest.raises(ZoneConflict):
        await store.save(CameraZones(camera="cam-1"), base_version=0, by="ani")  # "new" while it exists
    assert (await store.load("cam-1")).zones == second

    # emptied, the revision still grows: an edit based on any earlier one stays refused
    assert (await store.save(CameraZones(camera="cam-1"), base_version=2, by="budi")).version == 3
    assert (await store.load("cam-1")).zones.zones == ()
    with pytest.raises(ZoneConflict):
        await store.save(second, base_version=2, by="ani")
    fresh = ZoneStore(WITA)
    await fresh.load_all()
    assert fresh.version("cam-1") == 3 and fresh.zones("cam-1", "p1") == ()


async def test_two_saves_from_the_same_revision_one_wins(database):
    store = ZoneStore(WITA)
    other = ZoneStore(WITA)  # another server process on the same database
    await store.save(CameraZones(camera="cam-2", zones=(zone("a"),)), base_version=0, by="ani")
    results = await asyncio.gather(
        store.save(CameraZones(camera="cam-2", zones=(zone("b"),)), base_version=1, by="ani"),
        other.save(CameraZones(camera="cam-2", zones=(zone("c"),)), base_version=1, by="budi"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["StoredZones", "ZoneConflict"]
    winner = next(r for r in results if not isinstance(r, Exception))
    assert (await store.load("cam-2")).zones == winner.zones and winner.version == 2


async def test_rules_read_the_active_zones_in_local_time(database):
    store = ZoneStore(WITA)
    heard = []
    store.subscribe(heard.append)
    zones = CameraZones(camera="cam-3", zones=(zone("evening", windows=["16:00-19:00"]), zone("always"), zone("fixed", None)))
    await store.save(zones, base_version=0, by="ani")
    assert [s.version for s in heard] == [1]

    view: ZoneDirectory = _Zones(store)  # what a plugin gets as services.zones
    assert isinstance(view, ZoneDirectory) and not hasattr(view, "save")
    at_17_wita = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 17:00 WITA
    at_20_wita = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert [z.id for z in view.active("cam-3", "p1", at_17_wita)] == ["evening", "always"]
    assert [z.id for z in view.active("cam-3", "p1", at_20_wita)] == ["always"]
    assert [z.id for z in view.zones("cam-3", None)] == ["fixed"]
    assert view.zones("cam-3", "p9") == () and view.zones("nope", None) == () and view.version("cam-3") == 1
