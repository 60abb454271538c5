"""The ETLE rules' state machines on synthetic scenes, through the real tracker.

A road runs up the picture (1000x500): a ``traffic_lane`` zone whose traffic
flows up (direction (0, -1)) and, across it, a ``stop_line`` strip. Cars are
boxes over stream time turned into detections, tracked by
``core.analytics.tracker`` at 5 fps, and handed to the rules with the zones and
the light of each frame, as the analyzer does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from core.analytics.detector import Detection
from core.analytics.tracker import Tracker
from core.analytics.zones import Zone
from core.testing.pytest_plugin import bconnect
from plugins.etle_rules.config import Config
from plugins.etle_rules.offence import FrameInfo, Offence
from plugins.etle_rules.rule import EtleRule
from plugins.etle_rules.signal import LightState, read_lamp

WITA = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 8, 0, tzinfo=WITA)
W, H = 1000, 500
FPS = 5
LANE = Zone.model_validate({"id": "lane", "name": "lane", "kind": "traffic_lane", "direction": (0.0, -1.0),
                            "points": ((0.3, 0.0), (0.7, 0.0), (0.7, 1.0), (0.3, 1.0))})
STRIP = Zone.model_validate({"id": "stop", "name": "stop", "kind": "stop_line",
                             "points": ((0.3, 0.4), (0.7, 0.4), (0.7, 0.5), (0.3, 0.5))})  # y 200-250 px


def car(y2: float, x: float = 500.0, w: float = 100.0, h: float = 70.0, label: str = "car") -> Detection:
    """A car whose wheels (bottom centre) are at (x, y2)."""
    return Detection(label, 0.9, x - w / 2, y2 - h, x + w / 2, y2)


def run(
    duration: float,
    scene: Callable[[float], list[Detection]],
    light: Callable[[float], str | None] = lambda t: "red",
    *,
    zones: tuple[Zone, ...] = (LANE, STRIP),
    config: dict | None = None,
    camera: str = "cam",
    preset: str | None = None,
    sure: bool = True,
    rule: EtleRule | None = None,
) -> list[tuple[float, Offence]]:
    rule = rule or EtleRule(Config.model_validate(config or {}))
    tracker = Tracker()
    out = []
    for i in range(int(duration * FPS)):
        t = i / FPS
        tracks = tracker.update(scene(t), t)
        frame = FrameInfo(camera, preset, t, START + timedelta(seconds=t), W, H, ref=i)
        out += [(t, o) for o in rule.update(frame, tracks, zones, light(t), sure)]
    return out


def moving(y0: float, speed: float, start: float = 0.0, stop_y: float | None = None, go: float | None = None):
    """A car from wheels at ``y0`` up the picture at ``speed`` px/s (negative: down); stops at ``stop_y`` until ``go``."""

    def at(t: float) -> list[Detection]:
        if t < start:
            return []
        y = y0 - speed * (t - start)
        if stop_y is not None and (go is None or t < go):
            y = max(y, stop_y) if speed > 0 else min(y, stop_y)
        elif stop_y is not None:
            reach = start + abs(y0 - stop_y) / abs(speed)
            y = stop_y - speed * (t - max(go, reach))
        return [car(y)] if 0 < y <= H + 40 else []

    return at


# --- the light ----------------------------------------------------------------------


def _head(lit: tuple[int, int, int] | None) -> np.ndarray:
    """A 40x100 BGR picture: a dark head with three lamps, ``lit`` (RGB) drawn on the one that is on."""
    img = np.full((100, 40, 3), 30, np.uint8)
    if lit is not None:
        img[40:60, 10:30] = lit[::-1]
    return img


@pytest.mark.parametrize(("rgb", "phase"), [((255, 40, 30), "red"), ((255, 176, 20), "amber"), ((40, 250, 120), "green"), (None, None)])
def test_the_lamp_lit_is_read_from_the_heads_colour(rgb, phase):
    assert read_lamp(_head(rgb), (0.0, 0.0, 1.0, 1.0)) == phase


def test_a_white_glare_or_a_grey_truck_in_front_reads_nothing():
    assert read_lamp(np.full((100, 40, 3), 240, np.uint8), (0.0, 0.0, 1.0, 1.0)) is None
    assert read_lamp(np.full((100, 40, 3), 128, np.uint8), (0.0, 0.0, 1.0, 1.0)) is None


def test_the_light_changes_only_after_readings_agree_and_forgets_when_unreadable():
    light = LightState(confirm=2, unknown_after_s=1.0)
    assert light.update("green", 0.0) is None and light.update("green", 0.2) == "green"
    assert light.update("red", 0.4) == "green"  # one stray reading
    assert light.update("green", 0.6) == "green"
    assert light.update("red", 0.8) == "green" and light.update("red", 1.0) == "red" and light.since == 0.8
    assert light.update(None, 1.6) == "red"  # a truck hides it a moment
    assert light.update(None, 2.2) is None  # gone too long: unknown
    assert light.update("amber", 2.4, sure=True) == "amber"  # a signal input is believed at once


# --- red light ----------------------------------------------------------------------


def test_a_car_crossing_the_stop_line_on_red_gives_one_offence():
    found = run(8, moving(480, 100))  # wheels leave the strip's far edge (200 px) at 2.8 s
    assert len(found) == 1
    t, o = found[0]
    assert 2.8 <= t <= 3.0 and o.offence == "red_light" and o.kind == "red_light.violation" and o.zone_id == "stop"
    assert o.legal_basis["article"] == "Pasal 287 ayat (2)" and o.legal_basis["max_fine_idr"] == 500_000
    assert o.facts["light"] == "red"
    x1, y1, x2, y2 = o.box
    assert o.crop[0] < x1 and o.crop[2] > x2 and o.crop[3] > y2  # the plate crop: the box grown, in the picture
    detail = o.event(4.0).detail
    assert detail["offence"] == "red_light" and detail["snapshot_frame"]["box"] and detail["plate_crop"]
    assert detail["clip"]["pre_s"] == 4.0


def test_crossing_on_green_or_amber_fires_nothing():
    assert run(8, moving(480, 100), lambda t: "green") == []
    assert run(8, moving(480, 100), lambda t: "amber") == []


def test_a_car_already_past_the_line_when_red_starts_fires_nothing():
    assert run(8, moving(480, 100), lambda t: "green" if t < 3.2 else "red") == []


def test_a_car_crossing_just_as_red_starts_is_within_the_grace():
    assert run(8, moving(480, 100), lambda t: "amber" if t < 2.4 else "red") == []  # red for 0.4 s of grace_s 1
    assert len(run(8, moving(480, 100), lambda t: "amber" if t < 1.6 else "red")) == 1


def test_cars_waiting_at_the_red_in_the_strip_or_behind_it_and_going_on_green_fire_nothing():
    light = lambda t: "red" if t < 10 else "green"  # noqa: E731
    in_strip = moving(480, 100, stop_y=230, go=11)
    behind = moving(480, 100, stop_y=300, go=11)
    assert run(16, in_strip, light) == []
    assert run(16, behind, light) == []


def test_jitter_out_of_the_strips_rear_edge_while_waiting_is_no_crossing():
    def jitter(t: float) -> list[Detection]:
        return [car(245.0 + (12.0 if int(t * FPS) % 2 else 0.0))]  # wheels at 245 and 257: in and out the back

    assert run(10, jitter) == []


def test_without_a_known_light_nothing_fires():
    assert run(8, moving(480, 100), lambda t: None) == []
    assert run(8, moving(480, 100), lambda t: None, sure=False) == []


def test_a_fast_car_that_passes_the_strip_between_two_frames_still_crossed_it():
    thin = Zone.model_validate({"id": "stop", "name": "stop", "kind": "stop_line",
                                "points": ((0.3, 0.4), (0.7, 0.4), (0.7, 0.42), (0.3, 0.42))})  # y 200-210 px
    found = run(8, moving(483, 150), zones=(LANE, thin))  # wheels at 213 then 183: never inside
    assert len(found) == 1 and found[0][1].offence == "red_light"


def test_a_stream_restart_reads_the_light_anew_and_a_wall_clock_step_changes_nothing():
    rule = EtleRule(Config())
    tracker = Tracker()
    found = []
    for i in range(60):  # 12 s of red; the stream restarts at 6 s (from 100 s back to 0), the wall clock steps an hour
        t = 100 + i / FPS if i < 30 else (i - 30) / FPS
        if i == 30:
            tracker = Tracker()
        wall = START + timedelta(seconds=i / FPS) + (timedelta(hours=1) if i >= 20 else timedelta())
        scene = moving(480, 100)(t) if i >= 30 else []
        frame = FrameInfo("cam", None, t, wall, W, H, ref=i)
        found += rule.update(frame, tracker.update(scene, t), (LANE, STRIP), "red", False)
    assert len(found) == 1 and 2.8 <= found[0].stream_time <= 3.0  # after the restart: red read again, 2 frames
    assert found[0].facts["red_for_s"] == pytest.approx(found[0].stream_time, abs=0.01)


def test_a_camera_with_the_red_light_rule_off_gives_nothing():
    assert run(8, moving(480, 100), config={"red_light": {"enabled": False}}) == []


# --- wrong way ----------------------------------------------------------------------


def test_a_car_driving_against_the_lane_gives_one_wrong_way_offence():
    found = run(10, moving(50, -100))  # down the picture: against (0, -1)
    assert len(found) == 1
    t, o = found[0]
    assert o.offence == "wrong_way" and o.kind == "sign.violation" and o.zone_id == "lane"
    assert o.legal_basis["article"] == "Pasal 287 ayat (1)"
    assert o.facts["against_px"] >= 0.1 * np.hypot(W, H) and o.facts["against_s"] >= 1.5
    assert t <= 3.0  # 112 px at 100 px/s, at least 1.5 s


def test_a_car_with_the_traffic_a_standing_car_and_a_short_reverse_fire_nothing():
    assert run(10, moving(480, 100), lambda t: "green") == []
    assert run(10, lambda t: [car(300.0 + (4.0 if int(t * FPS) % 2 else 0.0))]) == []
    reverse = lambda t: [car(300.0 + min(t, 1.0) * 60.0)]  # noqa: E731  60 px back into a gap, then still
    assert run(10, reverse) == []


def test_a_standing_car_whose_track_is_carried_onto_an_unsure_box_is_no_wrong_way():
    # the tracker keeps a standing car's track on the detector's unsure boxes; on seed 808's queue one over half the
    # queue moved its ground point a car length against the lane at once. Where a vehicle is, is read only from sure
    # boxes (sure_score); the same track read from every box is an offence
    from core.analytics.tracker import Track
    from plugins.etle_rules.config import WrongWay
    from plugins.etle_rules.wrong_way import WrongWayWatch

    def offences(config: WrongWay) -> int:
        watch, found = WrongWayWatch(config), 0
        for i in range(int(8 * FPS)):
            t = i / FPS
            box, score = ((450.0, 230.0, 550.0, 300.0), 0.9) if t < 3.0 else ((380.0, 250.0, 620.0, 480.0), 0.12)
            track = Track(id=1, label="car", score=score, box=box, state="tracked", first_seen=0.0, last_seen=t, hits=10,
                          stationary_since=0.0, velocity=(0.0, 0.0), history=((t, *box),))
            frame = FrameInfo("cam", None, t, START + timedelta(seconds=t), W, H, ref=i)
            found += len(watch.update(frame, [track], (LANE,)))
        return found

    assert offences(WrongWay()) == 0
    assert offences(WrongWay(sure_score=0.0)) == 1


def test_a_track_found_again_after_a_gap_on_another_vehicle_starts_its_count_afresh():
    # seed 808's queue: a car standing in the queue lost, and its id on a truck 500 px down the picture 2 s later,
    # which then drives with the traffic. Across the gap nothing was seen moving: the count starts where it is found
    from core.analytics.tracker import Track
    from plugins.etle_rules.config import WrongWay
    from plugins.etle_rules.wrong_way import WrongWayWatch

    def offences(config: WrongWay, gap: tuple[float, float]) -> int:
        watch, found = WrongWayWatch(config), 0
        for i in range(int(8 * FPS)):
            t = i / FPS
            if gap[0] <= t < gap[1]:
                continue  # lost: the tracker lists it as lost, the rule reads only tracked boxes
            # standing at 300 until the gap, then found at 470 and driving up the picture (with the lane) slowly
            y = 300.0 if t < gap[0] else 470.0 - 10.0 * (t - gap[1])
            box = (450.0, y - 70.0, 550.0, y)
            track = Track(id=1, label="car", score=0.9, box=box, state="tracked", first_seen=0.0, last_seen=t, hits=10,
                          stationary_since=0.0, velocity=(0.0, 0.0), history=((t, *box),))
            frame = FrameInfo("cam", None, t, START + timedelta(seconds=t), W, H, ref=i)
            found += len(watch.update(frame, [track], (LANE,)))
        return found

    assert offences(WrongWay(), (2.0, 4.0)) == 0
    assert offences(WrongWay(max_gap_s=5.0), (2.0, 4.0)) == 1  # counted across the gap: the jump reads as 170 px back


def test_wrong_way_uses_the_kind_the_config_names():
    found = run(10, moving(50, -100), config={"wrong_way": {"event_kind": "wrong_way.violation"}})
    assert [o.kind for _, o in found] == ["wrong_way.violation"]


# --- speed --------------------------------------------------------------------------

LINES = {"camera": "cam", "first": [{"x": 0.3, "y": 0.6}, {"x": 0.7, "y": 0.6}],
         "second": [{"x": 0.3, "y": 0.3}, {"x": 0.7, "y": 0.3}], "distance_m": 15.0}  # 150 px apart


def test_a_calibrated_camera_measures_speed_between_its_lines():
    rule = EtleRule(Config.model_validate({"speed_lines": [LINES]}))
    found = run(8, moving(480, 75), lambda t: "green", rule=rule)  # 150 px in 2 s: 15 m in 2 s = 27 km/h
    assert found == []  # under 50 km/h
    (m,) = rule.speeds
    assert m.kmh == pytest.approx(27.0, abs=0.5)


def test_over_the_limit_gives_one_speed_offence_with_the_speed():
    found = run(8, moving(480, 150), lambda t: "green", config={"speed_lines": [{**LINES, "limit_kmh": 40}]})  # 54 km/h
    assert len(found) == 1
    o = found[0][1]
    assert o.kind == "speed.violation" and o.legal_basis["article"] == "Pasal 287 ayat (5)"
    assert o.facts["speed_kmh"] == pytest.approx(54.0, abs=1.0) and o.facts["limit_kmh"] == 40
    assert o.facts["distance_m"] == 15.0


def test_either_direction_is_measured():
    rule = EtleRule(Config.model_validate({"speed_lines": [LINES]}))
    run(8, moving(50, -75), lambda t: "green", rule=rule, zones=())
    assert [round(m.kmh) for m in rule.speeds] == [27]


def test_a_track_carried_onto_another_vehicle_is_measured_again():
    """The evaluation's `speeding` scene on renderer 8: the speeder, entering at the bottom, took the id of a car
    that had just left there the other way, already measured (one measurement per track missed the speeder)."""
    from core.analytics.track import Track
    from plugins.etle_rules.config import Speed, SpeedLines
    from plugins.etle_rules.speed import SpeedWatch

    watch = SpeedWatch(Speed(limit_kmh=40), SpeedLines.model_validate(LINES))
    history: list[tuple[float, float, float, float, float]] = []
    measured, over = [], []
    for i in range(int(8 * FPS)):
        t = i / FPS
        y2 = 50 + 75 * t if t < 4.0 else 480 - 150 * (t - 4.0)  # down at 27 km/h and out; up at 54 km/h, one id
        box = (450.0, y2 - 70, 550.0, y2)
        history = (history + [(t, *box)])[-20:]
        track = Track(7, "car", 0.9, box, "tracked", 0.0, t, i + 1, t, (0.0, 0.0), tuple(history))
        m, o = watch.update(FrameInfo("cam", None, t, START + timedelta(seconds=t), W, H, ref=i), [track])
        measured += m
        over += o
    assert [(m.track_id, round(m.kmh)) for m in measured] == [(7, 27), (7, 54)]  # one track, two passes
    assert [facts["speed_kmh"] for _, _, facts in over] == [pytest.approx(54.0, abs=1.0)]


def test_an_uncalibrated_camera_never_produces_a_speed():
    fast = moving(480, 400)
    for config, camera, preset in (
        ({}, "cam", None),  # nothing calibrated
        ({"speed_lines": [{**LINES, "camera": "other"}]}, "cam", None),  # another camera is
        ({"speed_lines": [{**LINES, "preset": "p1"}]}, "cam", None),  # this camera, on another preset
    ):
        config = {**config, "speed": {"limit_kmh": 1, "margin_kmh": 0}}
        rule = EtleRule(Config.model_validate(config))
        assert run(6, fast, lambda t: "green", rule=rule, camera=camera, preset=preset, zones=()) == []
        assert list(rule.speeds) == []


# --- config -------------------------------------------------------------------------


def test_config_refuses_what_cannot_be():
    with pytest.raises(ValidationError, match="fractions of the picture"):
        Config.model_validate({"signals": [{"camera": "cam", "box": [0.1, 0.1, 1.5, 0.2]}]})
    with pytest.raises(ValidationError, match="x2 must exceed x1"):
        Config.model_validate({"signals": [{"camera": "cam", "box": [0.5, 0.1, 0.4, 0.2]}]})
    with pytest.raises(ValidationError, match="given twice"):
        Config.model_validate({"speed_lines": [LINES, LINES]})
    with pytest.raises(ValidationError, match="distance_m"):
        Config.model_validate({"speed_lines": [{**LINES, "distance_m": 0}]})
    with pytest.raises(ValidationError, match="extra"):
        Config.model_validate({"red_light": {"grace": 1}})


def test_speed_cameras_alone_are_analysed_at_speed_fps():
    from core.interfaces import CameraInfo, StreamSource
    from plugins.etle_rules.analyzer import EtleAnalyzer

    def rate(config: dict, camera: str) -> float:
        info = CameraInfo(id=camera, name=camera, agency="polri", driver="x", main=StreamSource(url="rtsp://x/1"))
        return EtleAnalyzer(Config.model_validate(config)).fps_for(info)

    lines = {**LINES, "camera": "speed-cam"}
    assert rate({"fps": 5, "speed_fps": 10, "speed_lines": [lines]}, "speed-cam") == 10
    assert rate({"fps": 5, "speed_fps": 10, "speed_lines": [lines]}, "red-light-cam") == 5
    assert rate({"fps": 5, "speed_lines": [lines]}, "speed-cam") == 5  # no speed_fps: fps everywhere
    with pytest.raises(ValidationError, match="speed_fps"):
        Config.model_validate({"speed_fps": 0})


def test_check_config_names_file_line_and_key_of_a_bad_signal_head(make_deployment):
    d = make_deployment(
        """
        [plugins.etle_rules]
        fps = 10

        [[plugins.etle_rules.signals]]
        camera = "etle-1"
        box = [0.1, 0.1, 1.5, 0.2]
        """
    )
    result = bconnect("check-config", str(d.path))
    assert result.returncode != 0
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"error: {d.path}:") and "plugins.etle_rules.signals" in first and "fractions" in first, first


def test_the_analyzer_takes_a_signal_input_over_the_heads_colour():
    import dataclasses

    from core.interfaces import Frame
    from plugins.etle_rules.analyzer import EtleAnalyzer

    class Controller:  # a driver's signal input, as the optional interface describes it (no driver offers one yet)
        def __init__(self, phase: str | None) -> None:
            self.phase = phase

        def signal_phase(self, camera_id: str) -> str | None:
            return self.phase if camera_id == "cam" else None

    config = Config.model_validate({"signals": [{"camera": "cam", "box": [0.0, 0.0, 1.0, 1.0]}]})
    frame = Frame("cam", None, False, 0, 0.0, START, 40, 100, _head((255, 40, 30)))
    assert EtleAnalyzer(config).reading(frame) == ("red", False)  # the head's colour, through hysteresis
    assert EtleAnalyzer(config, [Controller("green")]).reading(frame) == ("green", True)  # the input wins, believed
    assert EtleAnalyzer(config, [Controller(None)]).reading(frame) == ("red", False)  # a silent input: the colour
    other = dataclasses.replace(frame, camera_id="cam2")
    assert EtleAnalyzer(config).reading(other) == (None, False)  # no head configured, no input: no light
