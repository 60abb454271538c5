"""core.drivers.fleet: the checks and addressing every fleet driver (Dishub, Polri) gets from one place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config import Deployment
from core.drivers.fleet import FleetEntry, FleetFile, build_fleet, numbering
from core.inventory import StreamOverride, StreamSettings


class Entry(FleetEntry):
    kind: str


class File(FleetFile):
    cameras: list[Entry]


FLEET = File.model_validate(
    {
        "placeholder": True,
        "cameras": [
            {"id": "a-1", "name": "A 1", "area": "north", "kind": "cctv", "lat": 1, "lon": 2},
            {"id": "b-1", "name": "B 1", "area": "south", "kind": "etle", "lat": 1, "lon": 2},
            {"id": "a-2", "name": "A 2", "area": "north", "kind": "cctv", "lat": 1, "lon": 2},
        ],
    }
).cameras
SETTINGS = StreamSettings(url_template="rtsp://cam-{number}.invalid/{kind}/{index}", password="pw-fleet")


def deployment(*areas: str) -> Deployment:
    return Deployment.model_validate({"deployment": {"name": "t"}, "areas": {a: {"name": a} for a in areas}})


def fields(entry: Entry, fleet) -> dict[str, object]:
    return {**numbering(entry, fleet, lambda x: x.kind), "kind": entry.kind}


def test_streams_numbering_and_camera_info():
    override = {"a-2": StreamOverride(url="rtsp://elsewhere.invalid/live")}
    fleet = build_fleet(FLEET, SETTINGS, override, deployment("north", "south"), fields)
    assert [e.id for e in fleet.entries] == ["a-1", "b-1", "a-2"]
    assert fleet.fields["a-2"] == {"id": "a-2", "number": 3, "index": 2, "kind": "cctv"}
    assert fleet.sources("b-1")[0].url == "rtsp://cam-2.invalid/etle/1"
    assert fleet.sources("a-2")[0].url == "rtsp://elsewhere.invalid/live"
    info = fleet.info(fleet.entry("a-1"), agency="transport", driver="fleet_test")
    assert (info.id, info.agency, info.driver, info.area, info.main.password) == ("a-1", "transport", "fleet_test", "north", "pw-fleet")
    assert "pw-fleet" not in repr(info)


def test_what_a_fleet_driver_must_refuse():
    with pytest.raises(ValueError, match=r"^camera 'b-1': area 'south' is not declared in \[areas\] \(declared: north\); or else$"):
        build_fleet(FLEET, SETTINGS, {}, deployment("north"), fields, area_hint="; or else")
    # the cameras not taken are not checked
    only_north = build_fleet(FLEET, SETTINGS, {}, deployment("north"), fields, take=lambda e: e.area == "north")
    assert [e.id for e in only_north.entries] == ["a-1", "a-2"]
    with pytest.raises(ValueError, match=r"^cameras: unknown camera id\(s\) z-9$"):
        build_fleet(FLEET, SETTINGS, {"z-9": StreamOverride()}, deployment("north", "south"), fields)
    bad = StreamSettings(url_template="rtsp://{site}.invalid/")
    with pytest.raises(ValueError, match=r"url_template: unknown field \{site\} \(known: id, index, kind, number\)"):
        build_fleet(FLEET, bad, {}, deployment("north", "south"), fields)
    # no camera taken: the templates are checked against the sample
    with pytest.raises(ValueError, match=r"unknown field \{site\}"):
        build_fleet(FLEET, bad, {}, deployment(), fields, take=lambda e: False, sample={"id": "x"})


def test_an_inventory_repeats_no_camera_id():
    with pytest.raises(ValidationError, match="camera id repeated: a-1"):
        File.model_validate({"placeholder": True, "cameras": [FLEET[0].model_dump(), FLEET[0].model_dump()]})
