"""The core's plate-reading service (``services.plates``) and the parking rule's side of it, without OCR.

The readers here are stand-ins written for the test: they stand for a plugin that answers, fails, is
busy, hangs or is no reader at all, which the real reader (tested in test_plate_reader.py and, in the
live pipeline, test_plate_live.py) cannot be made to do on demand.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from test_parking_rule import CAR, arriving, det, parked, run, zone

from core.analytics.plates import PlateReading, PlateService, ReaderBusy
from plugins.parking_rule.config import Config

READING = PlateReading("KT1234AB", 0.93, True, display="KT 1234 AB", colour="white", votes=3, frames=4)
CROP = np.zeros((40, 60, 3), np.uint8)


class Reader:
    name = "stand-in"

    def __init__(self, answer=READING, raises: BaseException | None = None, delay: float = 0.0) -> None:
        self.answer, self.raises, self.delay, self.calls = answer, raises, delay, []

    async def read(self, crops, vehicle_class):
        self.calls.append((len(crops), vehicle_class))
        await asyncio.sleep(self.delay)
        if self.raises is not None:
            raise self.raises
        return self.answer


class NoReader:
    name = "not-one"

    def read(self, crops, vehicle_class):  # not async
        return READING


def _service(reader, failures: list, timeout_s: float = 5.0) -> PlateService:
    return PlateService(reader, on_failure=failures.append, timeout_s=timeout_s)


async def test_a_reading_is_passed_on_and_becomes_the_events_plate_detail():
    reader, failures = Reader(), []
    service = _service(reader, failures)
    assert service.available and await service.read([CROP, None, CROP], "car") == READING
    assert reader.calls == [(2, "car")] and failures == []
    detail = READING.detail()
    assert detail["plate"] == "KT1234AB" and detail["plate_confidence"] == 0.93
    assert detail["plate_read"] == {"display": "KT 1234 AB", "raw": "", "colour": "white", "valid": True,
                                    "votes": 3, "frames": 4, "reasons": []}
    assert PlateReading("", 0.0, False, reasons=("no text read",)).detail()["plate"] is None


@pytest.mark.parametrize("reader,count,reported", [
    (Reader(raises=ReaderBusy("16 pending")), "busy", False),
    (Reader(raises=RuntimeError("onnx session broke")), "failed", True),
    (Reader(answer="KT1234AB"), "failed", True),
    (Reader(delay=5.0), "timed_out", False),
], ids=["busy", "raises", "wrong-type", "too-slow"])
async def test_a_reader_that_cannot_answer_gives_no_plate_and_is_counted(reader, count, reported):
    failures = []
    service = _service(reader, failures, timeout_s=0.2)
    assert await service.read([CROP], "car") is None
    assert service.counts[count] == 1 and bool(failures) == reported


async def test_without_a_reader_or_picture_there_is_nothing_to_read():
    assert not PlateService().available and await PlateService().read([CROP], "car") is None
    assert await _service(Reader(), []).read([], "car") is None


def test_the_first_reader_is_used_and_any_other_object_is_reported_against_its_plugin():
    reports = []
    first = Reader()
    service = PlateService.from_registered(
        [("a", NoReader()), ("b", first), ("c", Reader())], lambda plugin, hook, exc: reports.append((plugin, str(exc)))
    )
    assert service.name == "stand-in" and service._reader is first
    assert [p for p, _ in reports] == ["a", "c"] and "was registered first" in reports[1][1]


def test_the_rule_hands_over_its_best_sightings_for_the_plate_largest_first():
    def wavering(t: float):  # the detector's score wavers: the best sightings are the surest ones
        box = arriving(t, 10, 10_000)
        return [det(box, score=0.5 + 0.4 * ((int(t * 5) * 7) % 10) / 10)] if box else []

    [(_, v)] = run(40, wavering, zones=(zone(dwell_s=20),), config=Config(plate_frames=3))
    assert len(v.views) == 3 and len({x.ref for x in v.views}) == 3
    quality = [(x.box[2] - x.box[0]) * (x.box[3] - x.box[1]) * x.score for x in v.views]
    assert quality == sorted(quality, reverse=True) and v.views[0] == v.best
    assert all(x.box == pytest.approx(CAR) for x in v.views)
    [(_, none)] = run(40, parked(10, 10_000), zones=(zone(dwell_s=20),), config=Config(plate_frames=0))
    assert none.views == ()
