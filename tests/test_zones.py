"""Zones: polygons, kinds, time windows (across midnight, in any time zone) and the zone file."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from core.analytics.geometry import contains, polygon_problem
from core.analytics.zone_file import ZoneFileError, export_zones, import_zones, key_lines
from core.analytics.zones import CameraZones, TimeWindow, Zone, ZoneKind, parse_kind

WITA = ZoneInfo("Asia/Makassar")  # UTC+8, no daylight time
DOCS = Path(__file__).resolve().parent.parent / "docs" / "analytics.md"
SQUARE = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]


def zone(**fields) -> Zone:
    base = {"id": "z1", "name": "Zone 1", "kind": "no_parking", "points": SQUARE}
    return Zone.model_validate({**base, **fields})


def reasons(exc: ValidationError) -> list[str]:
    return [e["msg"].removeprefix("Value error, ") for e in exc.errors()]


# --- kinds and polygons ----------------------------------------------------------


def test_every_kind_is_data_and_an_unknown_one_is_named_with_the_known_ones():
    assert [k.value for k in ZoneKind] == [
        "no_parking", "no_stopping", "traffic_lane", "stop_line", "queue_area", "watched_area", "restricted_area",
    ]
    for kind in ZoneKind:
        extra = {"direction": [1, 0]} if kind is ZoneKind.TRAFFIC_LANE else {}
        assert zone(kind=kind.value, **extra).kind is kind
    with pytest.raises(ValidationError) as exc:
        zone(kind="parking")
    assert reasons(exc.value) == [
        "unknown zone kind 'parking' (kinds: no_parking, no_stopping, traffic_lane, stop_line, queue_area, "
        "watched_area, restricted_area)"
    ]
    assert parse_kind("stop_line") is ZoneKind.STOP_LINE


@pytest.mark.parametrize(
    "points,reason",
    [
        ([[0.1, 0.1], [0.5, 0.5]], "a polygon needs at least 3 points, got 2"),
        ([[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]], "edge points[0]-points[1] meets edge points[2]-points[3]: the polygon intersects itself"),
        ([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]], "the points lie on one line: the polygon has no area"),
        ([[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.5, 0.1]], "points[1] and points[3] are the same point"),
        ([[0.1, 0.1], [0.8, 0.1], [0.4, 0.1], [0.4, 0.6]], "the edges at points[1] fold back onto each other: the polygon intersects itself"),
        ([[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.3, 0.1], [0.1, 0.5]], "edge points[0]-points[1] meets edge points[2]-points[3]: the polygon intersects itself"),
    ],
)
def test_a_polygon_that_is_not_a_simple_one_is_refused_with_its_reason(points, reason):
    assert polygon_problem([tuple(p) for p in points]) == reason
    with pytest.raises(ValidationError) as exc:
        zone(points=points)
    assert reasons(exc.value) == [reason]


def test_a_point_outside_the_picture_is_named_by_its_index():
    with pytest.raises(ValidationError) as exc:
        zone(points=[[0.1, 0.1], [1.2, 0.1], [0.5, 0.5], [0.1, -0.01]])
    assert [(e["loc"], r) for e, r in zip(exc.value.errors(), reasons(exc.value))] == [
        (("points", 1), "(1.2, 0.1) lies outside the picture: coordinates are fractions of its width and height, 0 to 1"),
        (("points", 3), "(0.1, -0.01) lies outside the picture: coordinates are fractions of its width and height, 0 to 1"),
    ]
    with pytest.raises(ValidationError, match="finite"):
        zone(points=[[0.1, 0.1], [float("nan"), 0.1], [0.5, 0.5]])


def test_unknown_keys_are_refused_and_zones_are_immutable():
    with pytest.raises(ValidationError) as exc:
        zone(colour="red")
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [(("colour",), "extra_forbidden")]
    z = zone()
    with pytest.raises(ValidationError):
        z.name = "other"  # type: ignore[misc]


def test_the_ground_point_decides_and_a_resolution_change_does_not():
    z = zone(points=[[0.25, 0.5], [0.75, 0.5], [0.75, 1.0], [0.25, 1.0]])  # the lower half's middle
    # a tall box whose centre is above the zone but whose bottom centre stands in it
    assert z.contains_box((600, 200, 700, 700), 1280, 720)
    # a box whose centre is in the zone but whose bottom centre is beside it, to the right
    assert not z.contains_box((900, 400, 1100, 600), 1280, 720)
    for width, height in ((1920, 1080), (1280, 720), (640, 360)):
        sx, sy = width / 1280, height / 720
        assert z.contains_box((600 * sx, 200 * sy, 700 * sx, 700 * sy), width, height)
        assert not z.contains_box((600 * sx, 100 * sy, 700 * sx, 300 * sy), width, height)


def test_point_in_a_concave_polygon():
    ell = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.4), (0.4, 0.4), (0.4, 1.0), (0.0, 1.0)]
    assert contains(ell, 0.2, 0.8) and contains(ell, 0.8, 0.2)
    assert not contains(ell, 0.8, 0.8)  # the notch
    assert not contains(ell, 1.2, 0.2)


def test_a_traffic_lane_has_a_direction_and_only_a_lane_has_one():
    lane = zone(kind="traffic_lane", direction=[0, -1])
    assert lane.direction_px(1280, 720) == (0, -720)
    with pytest.raises(ValidationError, match="a traffic_lane zone needs a direction"):
        zone(kind="traffic_lane")
    with pytest.raises(ValidationError, match=re.escape("direction must not be [0, 0]")):
        zone(kind="traffic_lane", direction=[0, 0])
    with pytest.raises(ValidationError, match="direction is only for traffic_lane zones, not no_parking"):
        zone(direction=[1, 0])
    with pytest.raises(ValueError, match="has no direction"):
        zone().direction_px(1280, 720)


# --- time windows ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,reason",
    [
        ("25:00-26:00", "'25:00-26:00': 25:00 is not a time of day (00:00-23:59, or 24:00 as an end)"),
        ("16:60-17:00", "'16:60-17:00': minute 60 is not a minute (00-59)"),
        ("24:00-02:00", "'24:00-02:00': 24:00 is not a time of day (00:00-23:59, or 24:00 as an end)"),
        ("16:00", "'16:00' is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00"),
        ("4pm-7pm", "'4pm-7pm' is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00"),
        ("", "'' is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00"),
        (1600, "1600 is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00"),
        ("16:00-16:00", "'16:00-16:00' ends where it starts: leave windows out for a zone that always applies"),
        ("00:00-00:00", "'00:00-00:00' ends where it starts: leave windows out for a zone that always applies"),
    ],
)
def test_an_impossible_window_is_refused_with_a_reason(text, reason):
    with pytest.raises(ValueError) as exc:
        TimeWindow.parse(text)
    assert str(exc.value) == reason
    with pytest.raises(ValidationError) as exc2:
        zone(windows=["16:00-19:00", text])
    assert [e["loc"] for e in exc2.value.errors()] == [("windows", 1)] and reasons(exc2.value) == [reason]


def test_windows_parse_and_print_back():
    assert TimeWindow.parse("16:00-19:00") == TimeWindow(16 * 3600, 19 * 3600)
    assert TimeWindow.parse(" 7:30 - 9:05 ") == TimeWindow(7 * 3600 + 1800, 9 * 3600 + 300)
    assert TimeWindow.parse("22:00-05:00").overnight
    assert str(TimeWindow.parse("18:00-24:00")) == "18:00-24:00"
    assert str(TimeWindow.parse("00:00-24:00")) == "00:00-24:00"


def test_no_parking_16_to_19_wita_judged_from_any_time_zone():
    z = zone(windows=["16:00-19:00"])
    day = datetime(2026, 11, 30, tzinfo=WITA)
    assert not z.active_at(day.replace(hour=15, minute=59, second=59), WITA)
    assert z.active_at(day.replace(hour=16), WITA)
    assert z.active_at(day.replace(hour=18, minute=59, second=59), WITA)
    assert not z.active_at(day.replace(hour=19), WITA)  # the end is not part of the window
    # the same instants, given in UTC, in Jakarta (WIB, UTC+7) and in Amsterdam (winter, UTC+1)
    assert z.active_at(datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc), "Asia/Makassar")
    assert not z.active_at(datetime(2026, 11, 30, 7, 59, tzinfo=timezone.utc), WITA)
    assert z.active_at(datetime(2026, 11, 30, 17, 30, tzinfo=ZoneInfo("Asia/Jakarta")), WITA)
    assert z.active_at(datetime(2026, 11, 30, 11, 30, tzinfo=ZoneInfo("Europe/Amsterdam")), WITA)
    assert not z.active_at(datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam")), WITA)
    with pytest.raises(ValueError, match="naive datetime"):
        z.active_at(datetime(2026, 11, 30, 17, 0), WITA)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        z.active_at(day, "Mars/Olympus")


def test_a_window_across_midnight_belongs_to_the_day_it_starts_on():
    z = zone(windows=["22:00-05:00"], days=["fri"])
    fri = datetime(2026, 11, 27, tzinfo=WITA)  # a Friday
    assert fri.weekday() == 4
    assert not z.active_at(fri.replace(hour=21, minute=59), WITA)
    assert z.active_at(fri.replace(hour=22), WITA)
    assert z.active_at(fri.replace(hour=23, minute=59, second=59), WITA)
    assert z.active_at(fri + timedelta(days=1, hours=4, minutes=59), WITA)  # Saturday early morning
    assert not z.active_at(fri + timedelta(days=1, hours=5), WITA)
    assert not z.active_at(fri + timedelta(days=1, hours=23), WITA)  # Saturday night: not a Friday window
    assert not z.active_at(fri.replace(hour=4), WITA)  # Friday early morning: Thursday's window
    assert not z.active_at(fri - timedelta(hours=1), WITA)  # Thursday 23:00
    # without days, every night
    every = zone(windows=["22:00-05:00"])
    assert all(every.active_at(fri + timedelta(days=d, hours=2), WITA) for d in range(7))
    # the same Saturday 04:59 WITA given in UTC (Friday 20:59 UTC)
    assert z.active_at(datetime(2026, 11, 27, 20, 59, tzinfo=timezone.utc), WITA)


def test_days_without_windows_and_several_windows():
    weekdays = zone(days=["mon", "tue", "wed", "thu", "fri"])
    mon = datetime(2026, 11, 30, 12, tzinfo=WITA)
    assert weekdays.active_at(mon, WITA) and not weekdays.active_at(mon - timedelta(days=1), WITA)
    rush = zone(windows=["06:30-08:30", "16:00-19:00"])
    assert rush.active_at(mon.replace(hour=7), WITA) and rush.active_at(mon.replace(hour=17), WITA)
    assert not rush.active_at(mon, WITA)
    assert zone().active_at(mon, WITA)
    with pytest.raises(ValidationError, match=re.escape("unknown day 'monday' (days: mon, tue, wed, thu, fri, sat, sun)")):
        zone(days=["monday"])


# --- a camera's zones ---------------------------------------------------------------


def test_a_cameras_zones_per_preset_and_the_zones_a_box_stands_in():
    cam = CameraZones(
        camera="ptz-1",
        zones=(
            zone(id="np", preset="p1", windows=["16:00-19:00"]),
            zone(id="watch", kind="watched_area", preset="p1"),
            zone(id="other", preset="p2"),
        ),
    )
    assert [z.id for z in cam.for_preset("p1")] == ["np", "watch"]
    assert cam.for_preset(None) == ()
    box = (500, 200, 600, 400)  # bottom centre (550, 400) of 1280 x 720: (0.43, 0.56), inside SQUARE
    assert [z.id for z in cam.containing(box, 1280, 720, "p1")] == ["np", "watch"]
    assert [z.id for z in cam.containing(box, 1280, 720, "p1", kinds=[ZoneKind.NO_PARKING])] == ["np"]
    at_17 = datetime(2026, 11, 30, 17, tzinfo=WITA)
    at_12 = at_17.replace(hour=12)
    assert [z.id for z in cam.containing(box, 1280, 720, "p1", when=at_17, tz=WITA)] == ["np", "watch"]
    assert [z.id for z in cam.containing(box, 1280, 720, "p1", when=at_12, tz=WITA)] == ["watch"]
    assert cam.containing((0, 0, 10, 10), 1280, 720, "p1") == []
    with pytest.raises(ValidationError, match="zone id 'np' is used twice"):
        CameraZones(camera="ptz-1", zones=(zone(id="np"), zone(id="np", preset="p2")))


# --- the zone file -------------------------------------------------------------------


def sample() -> CameraZones:
    return CameraZones(
        camera="dishub-12",
        zones=(
            zone(id="np-west", name="MT Haryono west kerb", preset="p3", windows=["16:00-19:00"], dwell_s=120),
            zone(id="lane-in", name="Inbound lane", kind="traffic_lane", preset="p3", direction=[0.0, -1.0],
                 points=[[0.1, 0.9], [0.45, 0.9], [0.48, 0.3], [0.3, 0.3]]),
            zone(id="night", name="Park at night", kind="restricted_area", windows=["22:00-05:00"], days=["fri", "sat"]),
        ),
    )


def test_export_then_import_gives_equal_zones():
    text = export_zones(sample())
    data = json.loads(text)
    assert data["format"] == "bconnect.zones" and data["version"] == 1 and data["camera"] == "dishub-12"
    assert data["zones"][0]["windows"] == ["16:00-19:00"] and "direction" not in data["zones"][0]
    assert import_zones(text) == sample()
    assert import_zones(text.encode()) == sample()


BAD_FILE = """{
  "format": "bconnect.zones",
  "version": 1,
  "camera": "dishub-12",
  "zones": [
    {"id": "ok", "name": "Fine", "kind": "no_parking",
     "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]},
    {
      "id": "bad",
      "name": "Broken \\"one\\"",
      "kind": "parking",
      "colour": "red",
      "points": [
        [0.1, 0.1],
        [1.5, 0.1],
        [0.5, 0.5]
      ],
      "windows": ["16:00-19:00", "7pm-9pm"]
    },
    {"id": "tie", "name": "Bow tie", "kind": "watched_area",
     "points": [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]},
    {"id": "nameless", "kind": "watched_area", "points": [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1]]}
  ],
  "owner": "dishub"
}
"""


def test_an_import_names_every_problem_with_its_line_and_key_and_imports_nothing():
    with pytest.raises(ZoneFileError) as exc:
        import_zones(BAD_FILE, "cam12.json")
    assert [str(p) for p in exc.value.problems] == [
        "line 11: [zones[1].kind] unknown zone kind 'parking' (kinds: no_parking, no_stopping, traffic_lane, "
        "stop_line, queue_area, watched_area, restricted_area)",
        "line 12: [zones[1].colour] unknown key",
        "line 15: [zones[1].points[1]] (1.5, 0.1) lies outside the picture: coordinates are fractions of its width "
        "and height, 0 to 1",
        "line 18: [zones[1].windows[1]] '7pm-9pm' is not a time window: write HH:MM-HH:MM, e.g. 16:00-19:00",
        "line 21: [zones[2].points] edge points[0]-points[1] meets edge points[2]-points[3]: the polygon intersects itself",
        "line 22: [zones[3].name] missing value",
        "line 24: [owner] unknown key",
    ]
    assert str(exc.value).splitlines()[0].startswith("cam12.json: line 11: [zones[1].kind]")


@pytest.mark.parametrize(
    "text,problem",
    [
        ('{"format": "bconnect.zones",\n "version": 1,,\n}', "line 2: invalid JSON: Expecting property name enclosed in double quotes (column 15)"),
        ("[1, 2]", "line 1: a zone file holds one JSON object"),
        ('{"format": "geojson", "version": 1}', "line 1: [format] not a B-Connect zone file: format must be 'bconnect.zones', got 'geojson'"),
        ('{\n"format": "bconnect.zones",\n"version": 2}', "line 3: [version] version 2 is newer than this B-Connect reads (1): upgrade B-Connect to import it"),
        ('{"format": "bconnect.zones", "version": "1"}', "line 1: [version] version must be 1, got '1'"),
        ('{"format": "bconnect.zones", "version": 1}', "line 1: [camera] missing value"),
        ('{"format": "bconnect.zones", "version": 1, "camera": "Cam 1"}', "line 1: [camera] String should match pattern '^[a-z0-9][a-z0-9_\\-]*$'"),
        ('{"format": "bconnect.zones", "version": 1, "camera": "c", "zones": [{"id": "a", "name": "A", "kind": "no_parking", '
         '"points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}, {"id": "a", "name": "B", "kind": "no_parking", '
         '"points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}]}', "line 1: [zones] zone id 'a' is used twice"),
    ],
)
def test_a_file_that_is_not_a_zone_file_says_why(text, problem):
    with pytest.raises(ZoneFileError) as exc:
        import_zones(text)
    assert [str(p) for p in exc.value.problems] == [problem]


def test_undecodable_bytes_are_refused():
    with pytest.raises(ZoneFileError, match=r"not UTF-8 text \(byte 1\)"):
        import_zones(b'{\xff}')


def test_key_lines_follow_nested_arrays_and_escaped_quotes():
    text = '{\n "a": "x\\"y",\n "b": [\n  [1, 2],\n  {"c": [true,\n null]}\n ]\n}'
    lines = key_lines(text)
    assert lines[("a",)] == 2 and lines[("b",)] == 3 and lines[("b", 0)] == 4 and lines[("b", 1)] == 5
    assert lines[("b", 1, "c")] == 5 and lines[("b", 1, "c", 1)] == 6


def test_the_example_in_docs_analytics_imports():
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert blocks, "docs/analytics.md shows a zone file"
    zones = import_zones(blocks[0], "docs/analytics.md")
    assert zones.zones and export_zones(zones) and import_zones(export_zones(zones)) == zones
