"""The event type checks every field when built, and snapshots are stored once by their hash."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from core.events.snapshots import Box, draw_boxes, store_snapshot
from core.events.types import Event, Snapshot

WITA = timezone(timedelta(hours=8))


def make(**kw) -> Event:
    base = {"kind": "parking.violation", "camera_id": "dcam", "wall_time": datetime(2026, 1, 5, 16, 30, tzinfo=WITA)}
    return Event(**(base | kw))


def test_times_are_stored_in_utc_and_the_event_is_frozen():
    e = make(stream_time=12)
    assert e.wall_time == datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc) and e.wall_time.tzinfo is timezone.utc
    assert e.stream_time == 12.0 and len(e.id) == 16
    assert e.public()["wall_time"] == "2026-01-05T08:30:00Z"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.kind = "other"  # type: ignore[misc]


def test_detail_is_a_copy_of_json_values():
    detail = {"dwell_s": 131.5, "boxes": [[1, 2, 3, 4]]}
    e = make(detail=detail)
    detail["boxes"].append([9, 9, 9, 9])
    assert e.detail == {"dwell_s": 131.5, "boxes": [[1, 2, 3, 4]]}


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"kind": "Parking Violation"}, "kind: expected lower-case words"),
        ({"kind": ""}, "kind:"),
        ({"camera_id": "../x"}, "camera_id: not a valid id"),
        ({"zone_id": ""}, "zone_id: not a valid id"),
        ({"wall_time": datetime(2026, 1, 5, 16, 30)}, "wall_time: a naive datetime"),
        ({"wall_time": "2026-01-05"}, "wall_time: expected a datetime"),
        ({"stream_time": float("nan")}, "stream_time:"),
        ({"stream_time": -1}, "stream_time:"),
        ({"track_id": "7"}, "track_id: expected an integer"),
        ({"track_id": True}, "track_id: expected an integer"),
        ({"detail": {"when": datetime.now()}}, "detail: not JSON: datetime is not a JSON value"),
        ({"detail": {"x": float("inf")}}, "detail: not JSON"),
        ({"detail": {1: "a"}}, "detail: keys must be strings"),
        ({"detail": ["a"]}, "detail: expected a mapping"),
        ({"detail": {"blob": "x" * 20_000}}, "detail: 20012 bytes as JSON, at most 16384"),
        ({"snapshot": "snap.jpg"}, "snapshot: expected a Snapshot"),
        ({"clip_id": "clip-1"}, "clip_id: not an evidence clip id"),
        ({"priority": "urgent"}, "priority: 'urgent' is not one of low, normal, high, critical"),
        ({"mode": "tickets"}, "mode: 'tickets' is not one of enforcement, education"),
        ({"id": "x"}, "id: expected 16 hex digits"),
    ],
)
def test_bad_fields_are_refused_with_the_reason(change, reason):
    with pytest.raises(ValueError) as info:
        make(**change)
    assert str(info.value).startswith(reason), str(info.value)


def test_snapshot_reference_is_checked():
    digest = "ab" * 32
    assert Snapshot(f"snapshots/ab/{digest}.jpg", digest).sha256 == digest
    with pytest.raises(ValueError, match="snapshot path"):
        Snapshot(f"../../etc/{digest}.jpg", digest)
    with pytest.raises(ValueError, match="snapshot sha256"):
        Snapshot("snapshots/ab/x.jpg", "x")


def test_a_snapshot_with_boxes_is_stored_once_by_its_hash(tmp_path):
    picture = Image.new("RGB", (640, 360), (90, 90, 90))
    jpeg = draw_boxes(picture, [Box(100, 80, 300, 240, "car 0.91"), Box(400, 100, 450, 220)])
    decoded = Image.open(io.BytesIO(jpeg))
    assert decoded.format == "JPEG" and decoded.size == (640, 360)
    r, g, b = decoded.convert("RGB").getpixel((100, 160))  # on the left edge of the first box
    assert r > 200 and g < 120  # drawn in the box colour, not the grey background

    first = store_snapshot(tmp_path, jpeg)
    again = store_snapshot(tmp_path, jpeg)
    assert first == again and first.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert (tmp_path / first.path).read_bytes() == jpeg
    assert len(list((tmp_path / "snapshots").rglob("*"))) == 2  # one folder, one file, no temporary left
    with pytest.raises(ValueError, match="not a JPEG"):
        store_snapshot(tmp_path, b"GIF89a...")


def test_the_same_picture_stored_by_many_threads_at_once_is_one_file(tmp_path):
    """Two cameras showing the same picture (the same simulated video) store the same snapshot at once."""
    from concurrent.futures import ThreadPoolExecutor

    jpeg = draw_boxes(Image.new("RGB", (320, 180), (40, 90, 140)), [Box(10, 10, 100, 100, "car 0.9")])
    with ThreadPoolExecutor(8) as pool:
        stored = list(pool.map(lambda _: store_snapshot(tmp_path, jpeg), range(64)))
    assert len({s.path for s in stored}) == 1
    files = [p for p in (tmp_path / "snapshots").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{hashlib.sha256(jpeg).hexdigest()}.jpg"]  # no temporary file left
    assert files[0].read_bytes() == jpeg
