"""The accident watch's state machine: abrupt stop, collision, person down, suppression by zone, one alert per incident.

Synthetic detections (boxes in a 480x270 picture, 5 fps) go through the real
tracker (``core.analytics.tracker``) into the rule, as the analyzer feeds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from core.analytics.detector import Detection
from core.analytics.tracker import Tracker
from core.analytics.zones import Zone
from plugins.accident_watch.config import Config
from plugins.accident_watch.rule import ABRUPT_STOP, COLLISION, PERSON_DOWN, AccidentRule, FrameInfo

W, H, FPS = 480, 270, 5.0
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
LANE = Zone.model_validate({"id": "lane", "name": "lane", "kind": "traffic_lane", "direction": [1, 0],
                            "points": [[0, 0.3], [1, 0.3], [1, 1], [0, 1]]})
QUEUE = Zone.model_validate({"id": "halte", "name": "halte", "kind": "queue_area", "points": [[0.5, 0.3], [1, 0.3], [1, 1], [0.5, 1]]})
STOP = Zone.model_validate({"id": "stop", "name": "stop", "kind": "stop_line", "points": [[0.5, 0.3], [1, 0.3], [1, 1], [0.5, 1]]})


def car_at(x: float, y: float = 150.0, w: float = 60.0, h: float = 40.0, label: str = "car") -> Detection:
    return Detection(label, 0.9, x, y, x + w, y + h)


def drive(script, seconds: float, zones=(LANE,), config: Config | None = None):
    """``script(t)`` -> the detections at t; the accidents and when each came."""
    rule, tracker, out = AccidentRule(config or Config()), Tracker(), []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        tracks = tracker.update(script(t), t)
        for a in rule.update(FrameInfo("cam", None, t, T0 + timedelta(seconds=t), W, H, ref=i), tracks, zones):
            out.append((t, a))
    return out


def abrupt(t: float, stop_at: float = 4.0, x0: float = 20.0, speed: float = 60.0) -> list[Detection]:
    """A car at ``speed`` px/s (a size a second) that stops dead at ``stop_at`` and stays."""
    return [car_at(x0 + speed * min(t, stop_at))]


def gentle(t: float) -> list[Detection]:
    """A car that brakes evenly from a size a second over 8 s (a queue's approach) and stays."""
    u = min(t, 8.0)
    return [car_at(20.0 + 60.0 * (u - u * u / 16.0))]


def test_an_abrupt_stop_in_a_lane_gives_one_alert_soon_after():
    got = drive(abrupt, 20.0)
    assert len(got) == 1, got
    t, a = got[0]
    assert a.signs == (ABRUPT_STOP,) and a.zone_id == "lane" and a.parties[0].label == "car"
    assert 4.0 + Config().confirm_s <= t <= 4.0 + Config().confirm_s + 1.0  # stood still confirm_s, then alerted
    assert a.parties[0].speed_before >= Config().min_speed and 3.0 <= a.impact_stream <= 4.4
    assert a.detail()["signs"] == ["abrupt_stop"] and a.detail()["sure_after_s"] >= 0


def test_a_stop_too_far_up_the_road_to_judge_is_not_an_accident():
    """A car whose longer side is under min_size of the picture's height (a receding car near the horizon,
    moving a few pixels a second, reads as standing): not judged; the same stop nearer is."""
    def small(t: float) -> list[Detection]:
        u = min(t, 4.0)
        return [car_at(20.0 + 10.0 * u, w=10.0, h=7.0)]  # 10 px of 270: 0.037

    assert drive(small, 20.0) == []
    assert len(drive(small, 20.0, config=Config(min_size=0.03))) == 1


def test_a_car_driving_away_whose_centre_hardly_moves_is_not_an_abrupt_stop():
    """Seen from a pole, a car receding up the road shrinks while its centre hardly moves: the tracker reads it
    as standing after its fast approach; its shrinking box says it drives on (seed 303's wrong_way scene)."""
    def receding(t: float) -> list[Detection]:
        if t < 3.0:
            return [car_at(20.0 + 60.0 * t)]  # a size a second across the picture
        k = 0.78 ** (t - 3.0)  # then away, its box a fifth smaller every second, centred where it was
        cx, cy = 200.0, 170.0
        return [Detection("car", 0.9, cx - 30.0 * k, cy - 20.0 * k, cx + 30.0 * k, cy + 20.0 * k)]

    assert drive(receding, 8.0) == []
    assert len(drive(receding, 8.0, config=Config(steady_size=5.0))) == 1  # judged on centres alone: alerted


def test_a_gentle_stop_and_a_stop_off_the_lane_are_not_accidents():
    assert drive(gentle, 20.0) == []
    assert drive(abrupt, 20.0, zones=()) == []  # no traffic lane drawn: nowhere is watched


@pytest.mark.parametrize("zone", [QUEUE, STOP], ids=["queue_area", "stop_line"])
def test_stops_in_a_queue_area_or_at_a_stop_line_are_suppressed(zone):
    # stops with its bottom centre at 370 px of 480: in the lane, and in the zone (from 240 px)
    assert len(drive(lambda t: abrupt(t, x0=100.0), 20.0, zones=(LANE,))) == 1  # the same stop, no zone: alerted
    assert drive(lambda t: abrupt(t, x0=100.0), 20.0, zones=(LANE, zone)) == []
    assert len(drive(lambda t: abrupt(t, stop_at=2.0), 20.0, zones=(LANE, zone))) == 1  # a stop short of it counts


def test_a_stop_at_the_stop_line_stays_excused_when_the_car_edges_out_of_the_strip():
    """Seen on the simulator (seed 303): a car waiting at the stop line, its box's foot just inside the strip,
    creeps a few pixels forward as it moves off; still standing for the tracker, it was alerted as an abrupt
    stop in the lane beyond."""
    strip = Zone.model_validate({"id": "stop", "name": "stop", "kind": "stop_line", "points": [[0.45, 0.3], [0.55, 0.3], [0.55, 1], [0.45, 1]]})

    def waits_then_creeps(t: float) -> list[Detection]:
        return [car_at(230.0 + (8.0 if t >= 12.0 else 0.0))]  # bottom centre 260 px (in the strip to 264), then 268

    def arrives(t: float) -> list[Detection]:
        return waits_then_creeps(t) if t >= 3.5 else [car_at(20.0 + 60.0 * t)]

    assert len(drive(arrives, 20.0, zones=(LANE,))) == 1  # without the strip: an abrupt stop
    assert drive(arrives, 20.0, zones=(LANE, strip)) == []


def test_a_stop_the_detector_found_in_one_frame_of_two_is_still_alerted_one_it_lost_for_seconds_is_not():
    """A real detector misses a car now and then: the stop still counts when it is seen every few frames. A car
    unseen 1.6 s and found again standing (it may be another car under its id, the tracker cannot tell) was
    not watched stopping: no alert, whatever its track says."""
    flicker = drive(lambda t: abrupt(t) if round(t * FPS) % 2 == 0 or t < 3.0 else [], 20.0)
    assert len(flicker) == 1 and 6.0 <= flicker[0][0] <= 7.5
    gap = drive(lambda t: [] if 4.6 <= t < 6.2 else abrupt(t), 20.0)
    assert gap == []


def test_a_stop_held_only_on_unsure_boxes_waits_until_the_detector_is_sure_of_the_car():
    # a far car's track can stay behind on a faint patch when the car drives on: the tracker keeps a standing track
    # on the detector's unsure boxes (0.1-0.5), and such a "stop" is no accident until a sure box shows a car there
    def fading(sure_again: float | None):
        def script(t: float) -> list[Detection]:
            (det,) = abrupt(t)
            if t > 4.2 and (sure_again is None or t < sure_again):
                det = Detection(det.label, 0.35, det.x1, det.y1, det.x2, det.y2)
            return [det]
        return script

    assert drive(fading(None), 20.0) == []
    got = drive(fading(9.0), 20.0)
    assert len(got) == 1 and 9.0 <= got[0][0] <= 9.0 + Config().sure_within_s + 0.2
    assert got[0][1].signs == (ABRUPT_STOP,) and 3.0 <= got[0][1].impact_stream <= 4.4


def test_a_stop_after_moving_on_unsure_boxes_only_is_not_abrupt():
    """Far up a queue the detector boxes cars faintly (0.3-0.45) and the tracker hands a track from one to the
    next: it wobbles a size a second, then stands. Its speed before the stop is read from sure boxes only: with
    none, there was no fast approach to stop from. The same moves and stop boxed surely are an abrupt stop."""
    def moves(score: float):
        def script(t: float) -> list[Detection]:
            x = 20.0 + 60.0 * min(max(t - 2.0, 0.0), 2.0)  # stands 2 s, moves 2 s at a size a second, stands
            return [Detection("car", score if 2.0 <= t < 4.0 else 0.9, x, 150.0, x + 60.0, 190.0)]
        return script

    assert drive(moves(0.4), 20.0) == []
    got = drive(moves(0.9), 20.0)
    assert len(got) == 1 and got[0][1].signs == (ABRUPT_STOP,)


def test_two_vehicles_that_meet_and_both_stop_are_one_collision():
    def crash(t: float) -> list[Detection]:
        lead = car_at(200.0)  # standing in the lane long before
        follower = car_at(20.0 + 45.0 * min(t, 3.4))  # rear-ends it at 3.4 s (boxes overlap)
        return [lead, follower]

    config = Config(min_speed=0.5)
    got = drive(crash, 20.0, config=config)
    assert len(got) == 1, got
    t, a = got[0]
    assert COLLISION in a.signs and len(a.parties) == 2
    assert {p.sign for p in a.parties} >= {COLLISION} and 3.0 <= a.impact_stream <= 3.6
    assert t - a.impact_stream <= 5.0


def test_a_person_down_in_the_lane_and_one_standing_there():
    def fall(t: float) -> list[Detection]:
        if t < 4.0:
            return [Detection("person", 0.9, 200.0, 120.0, 215.0, 160.0)]  # standing: tall and narrow
        return [Detection("person", 0.9, 185.0, 148.0, 228.0, 162.0)]  # lying: wide and low

    got = drive(fall, 15.0)
    assert len(got) == 1 and got[0][1].signs == (PERSON_DOWN,), got
    assert 4.0 + Config().down_s <= got[0][0] <= 4.0 + Config().down_s + 1.0
    assert drive(lambda t: [Detection("person", 0.9, 200.0, 120.0, 215.0, 160.0)], 15.0) == []
    # a rider waiting on a motorcycle, boxed as a person about as wide as tall (36 x 32), is not a person down
    assert drive(lambda t: [Detection("person", 0.9, 200.0, 130.0, 236.0, 162.0)], 15.0) == []
    # a car read as a "person" (a wide box) driving along the lane at a size a second is not lying there
    assert drive(lambda t: [Detection("person", 0.9, 20.0 + 60.0 * t, 148.0, 80.0 + 60.0 * t, 170.0)], 8.0) == []
    # ... the same box standing still is
    assert len(drive(lambda t: [Detection("person", 0.9, 200.0, 148.0, 260.0, 170.0)], 8.0)) == 1


def test_one_alert_per_incident_also_when_the_tracker_loses_the_car_for_a_moment():
    def blink(t: float) -> list[Detection]:
        return [] if 9.0 <= t < 10.5 else abrupt(t)  # hidden 1.5 s (a bus passes) after the alert

    assert len(drive(blink, 25.0)) == 1
    assert len(drive(abrupt, 60.0)) == 1  # a car that stays is never reported again


def test_a_second_crash_elsewhere_is_a_second_incident():
    def two(t: float) -> list[Detection]:
        return abrupt(t) + [car_at(20.0 + 60.0 * min(max(t - 8.0, 0.0), 3.0), y=210.0)]  # the second stops at 11 s

    got = drive(two, 25.0)
    assert len(got) == 2 and got[0][1].box != got[1][1].box


def test_a_stream_that_jumps_back_forgets_what_moved():
    rule, tracker = AccidentRule(Config()), Tracker()
    out = []
    for i, t in enumerate([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, -50.0, float("nan")]):
        tracks = tracker.update(abrupt(max(t, 0.0)), max(t, 0.0))
        out += rule.update(FrameInfo("cam", None, t, T0, W, H, ref=i), tracks, (LANE,))
    assert out == []


def test_bad_config_names_the_key():
    with pytest.raises(ValueError, match="unknown zone kind 'lane'"):
        Config.model_validate({"lane_kinds": ["lane"]})
    with pytest.raises(ValueError, match="both a lane kind and an excused kind"):
        Config.model_validate({"excused_kinds": ["traffic_lane"]})
    with pytest.raises(ValueError, match="priority"):
        Config.model_validate({"priority": "urgent"})
    with pytest.raises(ValueError, match="extra"):
        Config.model_validate({"speed": 1})


def test_each_ptz_preset_is_its_own_view_and_forget_drops_the_camera():
    rule, trackers = AccidentRule(Config()), {"p1": Tracker(), "p2": Tracker()}
    got = []
    for i in range(int(12 * FPS)):
        t = i / FPS
        preset = "p1" if i % 2 == 0 else "p2"  # two views of one camera, frames interleaved
        tracks = trackers[preset].update(abrupt(t), t)
        got += rule.update(FrameInfo("cam", preset, t, T0 + timedelta(seconds=t), W, H, ref=i), tracks, (LANE,))
    assert sorted(a.preset for a in got) == ["p1", "p2"]  # the same spot on another preset is another place
    assert rule.incidents("cam") == 2
    rule.forget("cam")
    assert rule.incidents("cam") == 0
