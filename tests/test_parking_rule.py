"""The parking rule's state machine on synthetic scenes, through the real tracker.

Each scene is boxes over stream time (a car parking, a bus passing in front, a
PTZ camera touring its presets) turned into detections, run through
``core.analytics.tracker`` at 5 fps, and the tracks handed to the rule with the
camera's zones, as the analyzer will. Times are stream seconds; wall time is a
separate clock (WITA) that a test may step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from core.analytics.detector import Detection
from core.analytics.tracker import Track, ViewTrackers
from core.analytics.zones import Zone
from core.events.types import Event
from core.testing.pytest_plugin import bconnect
from plugins.parking_rule.config import Config
from plugins.parking_rule.rule import FrameInfo, ParkingRule, Violation

WITA = timezone(timedelta(hours=8))
W, H = 1000, 500
CAR = (150.0, 300.0, 300.0, 400.0)  # standing on the kerb: its wheels (225, 400) are in the zone
ZONE_POINTS = ((0.1, 0.6), (0.4, 0.6), (0.4, 0.9), (0.1, 0.9))
FPS = 5


def zone(kind: str = "no_parking", **kw) -> Zone:
    return Zone.model_validate({"id": kind.replace("_", "-"), "name": kind, "kind": kind, "points": ZONE_POINTS, **kw})


def det(box, label: str = "car", score: float = 0.9) -> Detection:
    return Detection(label, score, *box)


def arriving(t: float, arrive: float, leave: float, box=CAR) -> tuple[float, float, float, float] | None:
    """A car that drives in from the right over 4 s, stands from ``arrive`` to ``leave``, then drives off left."""
    if t < arrive - 4 or t > leave + 4:
        return None
    if t < arrive:
        dx = (arrive - t) * 120.0
    elif t > leave:
        dx = -(t - leave) * 120.0
    else:
        dx = 0.0
    x1 = box[0] + dx
    if x1 + (box[2] - box[0]) < 0 or x1 > W:
        return None
    return (x1, box[1], x1 + box[2] - box[0], box[3])


def run(
    duration: float,
    scene: Callable[[float], list[Detection]],
    *,
    zones: tuple[Zone, ...] | Callable[[str | None], tuple[Zone, ...]] = (),
    config: Config | None = None,
    start: datetime = datetime(2026, 1, 5, 16, 30, tzinfo=WITA),
    preset: Callable[[float], str | None] = lambda t: None,
    wall: Callable[[float], datetime] | None = None,
    stream: Callable[[float], float] = lambda t: t,
    rule: ParkingRule | None = None,
) -> list[tuple[float, Violation]]:
    """Play ``duration`` seconds at 5 fps; the violations with the (true) second each came at."""
    rule = rule or ParkingRule(config or Config(), "Asia/Makassar")
    views = ViewTrackers()
    out = []
    last_preset: object = object()
    for i in range(int(duration * FPS) + 1):
        t = i / FPS
        p = preset(t)
        if p != last_preset:
            views.camera_moved("cam")  # the camera moved: the analyzer resets the trackers
            last_preset = p
        tracks = views.get("cam", p).update(scene(t) if p != "moving" else [], stream(t))
        frame = FrameInfo("cam", None if p == "moving" else p, stream(t), wall(t) if wall else start + timedelta(seconds=t), W, H, ref=i)
        view_zones = zones(frame.preset) if callable(zones) else zones
        out += [(t, v) for v in rule.update(frame, tracks, view_zones)]
    return out


def parked(arrive: float, leave: float, **kw) -> Callable[[float], list[Detection]]:
    def scene(t: float) -> list[Detection]:
        box = arriving(t, arrive, leave, **kw)
        return [det(box)] if box else []
    return scene


# --- the basic promise ---------------------------------------------------------------------


def test_a_car_that_stays_ten_minutes_gives_one_violation_at_two_minutes():
    found = run(660, parked(10, 10_000), zones=(zone(),))
    assert len(found) == 1
    t, v = found[0]
    assert 130 <= t <= 131.5  # stopped at 10 s, 120 s threshold
    assert v.zone_id == "no-parking" and v.zone_kind == "no_parking" and v.label == "car"
    assert v.dwell_s == pytest.approx(120, abs=0.3) and v.threshold_s == 120 and v.visits == 1
    assert v.legal_basis["article"] == "Pasal 287 ayat (3)" and v.legal_basis["max_fine_idr"] == 250_000
    assert v.arrived_stream == pytest.approx(6.0, abs=0.5)  # first seen driving in: the clip starts before the stop
    assert v.elapsed_s == pytest.approx(t - v.arrived_stream, abs=0.01)
    assert v.best.box == pytest.approx(CAR) and v.best.ref is not None
    x1, y1, x2, y2 = v.crop
    assert x1 < CAR[0] and y1 < CAR[1] and x2 > CAR[2] and y2 > CAR[3] and x2 <= W and y2 <= H
    event = v.event()
    assert isinstance(event, Event) and event.kind == "parking.violation" and event.zone_id == "no-parking"
    assert event.detail["dwell_s"] == pytest.approx(120, abs=0.3)
    assert event.detail["legal_basis"]["law"].startswith("UU No. 22 Tahun 2009")
    assert event.detail["clip"]["pre_s"] >= 120 and event.detail["snapshot_frame"]["box"] == list(CAR)


def test_a_delivery_stop_shorter_than_the_threshold_fires_nothing():
    assert run(200, parked(10, 100), zones=(zone(),)) == []


def test_no_stopping_zones_have_a_shorter_threshold_and_a_zone_may_set_its_own():
    found = run(80, parked(10, 10_000), zones=(zone("no_stopping"),))
    assert len(found) == 1 and 40 <= found[0][0] <= 41.5 and found[0][1].threshold_s == 30
    found = run(80, parked(10, 10_000), zones=(zone("no_stopping", dwell_s=45),))
    assert len(found) == 1 and 55 <= found[0][0] <= 56.5


def test_only_vehicles_count():
    person = lambda t: [det((200, 250, 240, 400), "person")]  # noqa: E731
    assert run(200, person, zones=(zone(),)) == []


def test_a_queue_area_over_the_zone_excuses_the_stop():
    queue = Zone.model_validate({"id": "q", "name": "q", "kind": "queue_area", "points": ZONE_POINTS})
    assert run(200, parked(10, 10_000), zones=(zone("no_stopping"), queue)) == []


def test_a_car_outside_the_zone_is_not_reported():
    away = (600.0, 300.0, 750.0, 400.0)
    assert run(200, parked(10, 10_000, box=away), zones=(zone(),)) == []


def test_a_car_in_two_overlapping_zones_is_reported_once_by_the_first_due():
    both = (zone("no_parking"), zone("no_stopping"))
    found = run(400, parked(10, 10_000), zones=both)
    assert [(v.zone_kind, round(t)) for t, v in found] == [("no_stopping", 40)]


def test_the_rule_names_the_frames_it_may_still_take_a_snapshot_from():
    rule = ParkingRule(Config(), "Asia/Makassar")
    run(60, parked(10, 10_000), zones=(zone(),), rule=rule)
    refs = rule.refs_in_use()
    assert len(refs) == 1 and all(isinstance(r, int) for r in refs)  # the best sighting so far, one car
    run(200, parked(10, 10_000), zones=(zone(),), rule=(done := ParkingRule(Config(), "Asia/Makassar")))
    assert done.refs_in_use() == set()  # reported: its picture is no longer needed


# --- jitter, occlusion, leaving -----------------------------------------------------------


def test_the_timer_survives_jitter_and_missed_frames():
    rng = random.Random(7)

    def scene(t: float) -> list[Detection]:
        box = arriving(t, 10, 10_000)
        if box is None or rng.random() < 0.2:  # the detector misses one frame in five
            return []
        w, h = box[2] - box[0], box[3] - box[1]
        j = [rng.gauss(0, 0.03) * s for s in (w, h, w, h)]  # 3 % jitter on every edge
        return [det(tuple(v + d for v, d in zip(box, j)), score=rng.uniform(0.55, 0.95))]

    found = run(400, scene, zones=(zone(),))
    assert len(found) == 1 and 129 <= found[0][0] <= 133


def test_a_parked_car_the_detector_finds_in_one_frame_of_three_keeps_its_timer():
    """The default detector finds a small parked car in about one frame of three: one violation, on time."""
    rng = random.Random(11)
    seen = parked(10, 10_000)
    found = run(300, lambda t: [d for d in seen(t) if t < 10 or rng.random() < 0.35], zones=(zone(),))
    assert len(found) == 1 and 129 <= found[0][0] <= 136


def _standing(tid: int, box, t: float, since: float, state: str = "tracked") -> Track:
    return Track(id=tid, label="car", score=0.9, box=box, state=state, first_seen=since, last_seen=t, hits=10,
                 stationary_since=since, velocity=(0.0, 0.0), history=((t, *box),))


def test_a_second_track_on_a_reported_car_gives_no_second_violation():
    """A track born on the parked car while its first track was lost (or a detector's second box the tracker
    could not merge): the car was reported once, its second track stands on the same spot and is not."""
    rule = ParkingRule(Config(), "Asia/Makassar")
    start = datetime(2026, 1, 5, 16, 30, tzinfo=WITA)
    near = (152.0, 302.0, 301.0, 399.0)
    found = []
    for i in range(260 * FPS):
        t = i / FPS
        tracks = [_standing(1, CAR, min(t, 150.0), 0.0, "tracked" if t <= 150 else "lost")] if t < 170 else []
        if t >= 60:
            tracks.append(_standing(2, near, t, 60.0))
        frame = FrameInfo("cam", None, t, start + timedelta(seconds=t), W, H, ref=i)
        found += [(t, v) for v in rule.update(frame, tracks, (zone(),))]
    assert [(round(t), v.track_id) for t, v in found] == [(120, 1)]


def bus(x_at: Callable[[float], float | None]) -> Callable[[float], list[Detection]]:
    def boxes(t: float) -> list[Detection]:
        x = x_at(t)
        return [] if x is None else [det((x, 220.0, x + 420.0, 440.0), "bus", 0.95)]
    return boxes


def test_a_bus_passing_and_a_bus_standing_in_front_do_not_reset_the_timer():
    def bus_x(t: float) -> float | None:
        if 40 <= t < 46:  # drives past, right to left, hiding the car for about 2 s
            return 900 - (t - 40) * 200
        if 70 <= t < 90:  # stops in front of it for 20 s
            return 100.0
        return None

    passing = bus(bus_x)

    def scene(t: float) -> list[Detection]:
        box = arriving(t, 10, 10_000)
        hidden = bus_x(t) is not None and bus_x(t) < CAR[2] and bus_x(t) + 420 > CAR[0]
        return passing(t) + ([det(box)] if box and not hidden else [])

    found = run(300, scene, zones=(zone(),))
    assert len(found) == 1
    t, v = found[0]
    assert 130 <= t <= 132  # the time hidden counts: the car never left
    assert v.dwell_s == pytest.approx(120, abs=0.5)


def test_a_bus_standing_in_front_longer_than_the_tracker_waits_does_not_reset_the_timer():
    stands = bus(lambda t: 100.0 if 40 <= t < 100 else None)  # 60 s: the tracker lets the hidden car go after 30

    def scene(t: float) -> list[Detection]:
        box = arriving(t, 10, 10_000)
        return stands(t) + ([det(box)] if box and not 40 <= t < 100 else [])

    found = run(300, scene, zones=(zone(),))
    assert len(found) == 1
    t, v = found[0]
    # 30 s before the bus + 30 s hidden (occlusion_s) counted; the other 30 s hidden were not watched
    assert 160 <= t <= 163 and v.visits == 2 and v.dwell_s == pytest.approx(120, abs=0.5)


def test_a_violation_due_while_the_vehicle_is_hidden_waits_to_see_it():
    """Seeds 202 and 606's delivery_stop: a van stood 8 s of a 10 s threshold, then the detector lost it as it
    pulled away, its moving box over the spot it left. Counted as covered, the lost track came due 2 s later and
    was reported with nobody there. Due while hidden, the violation waits to see the vehicle: a car hidden by a
    bus at the threshold is reported when the bus has gone, on its own box; a van that left unseen is not."""
    short = (zone(dwell_s=10),)
    van = (200.0, 240.0, 330.0, 330.0)

    def leaving(t: float) -> list[Detection]:  # stands 10-18 s, then a "bus" box over its spot while it drives off
        if 6 <= t < 18:
            return [det(arriving(t, 10, 10_000, box=van), "truck")]
        return [det((100.0, 150.0, 600.0, 450.0), "bus", 0.95)] if 18 <= t < 24 else []

    assert run(60, leaving, zones=short) == []

    hide = bus(lambda t: 100.0 if 18 <= t < 24 else None)  # the bus stands in front of the car 18-24 s

    def parked_car(t: float) -> list[Detection]:
        box = arriving(t, 10, 10_000)
        return hide(t) + ([det(box)] if box and not 18 <= t < 24 else [])

    (t, v), = run(60, parked_car, zones=short)
    assert 24 <= t <= 24.6 and v.best.box == CAR and v.dwell_s >= 10  # due at about 20 s, reported when seen again


def test_a_vehicle_the_detector_stops_seeing_with_nothing_in_front_is_not_timed_on():
    """A delivery van stands 8 s (the zone's threshold is 30 s); the detector boxes it only for its first
    second of standing, then not at all, and it drives off unseen. Nothing stood in front of it: its timer ran
    ``miss_s`` more, not ``occlusion_s`` (which would make 31 s, a violation). Seen again, it counts again."""
    short = (zone(dwell_s=30),)

    def missed(t: float) -> list[Detection]:
        box = arriving(t, 10, 18)
        return [det(box)] if box and (t < 11 or t > 40) else []

    assert run(120, missed, zones=short) == []

    def missed_then_seen(t: float) -> list[Detection]:  # stands on; missed 15-23 s, seen from 23 s again
        box = arriving(t, 10, 10_000)
        return [det(box)] if box and not 15 <= t < 23 else []

    (t, v), = run(120, missed_then_seen, zones=short)
    assert 44.5 <= t <= 46 and v.dwell_s == pytest.approx(30, abs=0.5)  # 8 s unseen, 3 of them counted


def test_a_car_that_leaves_and_comes_back_starts_anew():
    def scene(t: float) -> list[Detection]:
        box = arriving(t, 10, 100) or arriving(t, 140, 10_000)
        return [det(box)] if box else []

    found = run(400, scene, zones=(zone(),))
    assert len(found) == 1
    assert 260 <= found[0][0] <= 261.5  # 120 s after the second stop, not after the first


def test_a_car_inching_forward_is_a_new_stay_only_if_it_really_moved():
    def scene(t: float) -> list[Detection]:
        box = arriving(t, 10, 10_000)
        if box and t > 60:  # shuffles 2 px forward: still parked
            box = (box[0] - 2, box[1], box[2] - 2, box[3])
        return [det(box)] if box else []

    found = run(200, scene, zones=(zone(),))
    assert len(found) == 1 and 130 <= found[0][0] <= 131.5


# --- hours and clocks -------------------------------------------------------------------


def test_outside_the_window_nothing_fires_and_the_timer_starts_with_the_window():
    morning = datetime(2026, 1, 5, 14, 0, tzinfo=WITA)
    assert run(600, parked(10, 10_000), zones=(zone(),), start=morning) == []
    # parked at 15:59:00 (default window 16:00-19:00 from the rule's config): due at 16:02:00
    before = datetime(2026, 1, 5, 15, 58, 50, tzinfo=WITA)
    found = run(300, parked(10, 10_000), zones=(zone(),), start=before)
    assert len(found) == 1
    due = datetime(2026, 1, 5, 16, 2, tzinfo=WITA)
    assert abs((found[0][1].wall_time - due).total_seconds()) <= 1.0  # within a frame or so
    # the window ends at 19:00: a car parked at 18:59 is not reported
    late = datetime(2026, 1, 5, 18, 58, 50, tzinfo=WITA)
    assert run(300, parked(10, 10_000), zones=(zone(),), start=late) == []


def test_a_zone_with_its_own_window_across_midnight():
    night = zone(windows=["22:00-05:00"])
    found = run(300, parked(10, 10_000), zones=(night,), start=datetime(2026, 1, 5, 23, 58, tzinfo=WITA))
    assert len(found) == 1 and found[0][1].wall_time.astimezone(WITA).day == 6  # 00:00:10 the next day
    assert run(300, parked(10, 10_000), zones=(night,), start=datetime(2026, 1, 6, 16, 30, tzinfo=WITA)) == []
    assert len(run(300, parked(10, 10_000), zones=(night,), start=datetime(2026, 1, 6, 4, 58, tzinfo=WITA))) == 0  # due 05:00:10
    assert len(run(300, parked(10, 10_000), zones=(night,), start=datetime(2026, 1, 6, 4, 30, tzinfo=WITA))) == 1


@pytest.mark.parametrize("step_s", [-3600, -60, 60, 3600])
def test_a_wall_clock_step_neither_repeats_nor_hurries_a_violation(step_s):
    start = datetime(2026, 1, 5, 17, 30, tzinfo=WITA)
    wall = lambda t: start + timedelta(seconds=t + (step_s if t >= 70 else 0))  # noqa: E731  (NTP step at 70 s)
    found = run(600, parked(10, 10_000), zones=(zone(),), wall=wall)
    assert len(found) == 1 and 130 <= found[0][0] <= 131.5


def test_a_wall_clock_jumping_into_the_window_does_not_fire_at_once():
    start = datetime(2026, 1, 5, 15, 0, tzinfo=WITA)
    wall = lambda t: start + timedelta(seconds=t + (3600 if t >= 100 else 0))  # noqa: E731  (15:01:40 -> 16:01:40)
    found = run(400, parked(10, 10_000), zones=(zone(),), wall=wall)
    assert len(found) == 1 and 219.5 <= found[0][0] <= 221.5  # 120 s of looking inside the window


def test_a_stream_that_restarts_after_the_violation_does_not_repeat_it():
    stream = lambda t: t if t < 200 else t - 200 + 0.4  # noqa: E731  (reconnect: stream time starts over)
    found = run(600, parked(10, 10_000), zones=(zone(),), stream=stream)
    assert len(found) == 1 and 130 <= found[0][0] <= 131.5


def test_a_frame_without_a_usable_stream_time_is_skipped():
    rule = ParkingRule(Config(), "Asia/Makassar")
    frame = FrameInfo("cam", None, float("nan"), datetime(2026, 1, 5, 16, 30, tzinfo=WITA), W, H)
    assert rule.update(frame, [], (zone(),)) == []
    assert len(run(200, parked(10, 10_000), zones=(zone(),), rule=rule)) == 1  # and the camera's clock is unharmed


# --- PTZ presets and tours --------------------------------------------------------------


def p1_zones(preset: str | None) -> tuple[Zone, ...]:
    return (zone(preset="p1"),) if preset == "p1" else ()


def tour(plan: list[tuple[float, str]]) -> Callable[[float], str]:
    """``[(seconds, preset), ...]`` repeated: the preset at each moment; "moving" between."""
    cycle = sum(s for s, _ in plan)

    def at(t: float) -> str:
        t %= cycle
        for seconds, name in plan:
            if t < seconds:
                return name
            t -= seconds
        return plan[-1][1]
    return at


def test_leaving_the_preset_suspends_the_timer_and_returning_within_grace_resumes_it():
    # p1 for 70 s (car stops at 10 s: 60 s counted), away 40 s, back to p1: 60 s more are needed
    at = tour([(70, "p1"), (5, "moving"), (30, "p2"), (5, "moving"), (10_000, "p1")])
    found = run(400, parked(10, 10_000), zones=p1_zones, preset=at)
    assert len(found) == 1
    t, v = found[0]
    assert 170 <= t <= 173 and v.visits == 2 and v.preset == "p1"
    assert v.dwell_s == pytest.approx(120, abs=0.5) and v.elapsed_s > 160  # time away is elapsed, not dwell


def test_returning_after_the_grace_starts_the_timer_anew():
    at = tour([(70, "p1"), (400, "p2"), (10_000, "p1")])
    found = run(800, parked(10, 10_000), zones=p1_zones, preset=at, config=Config(ptz_grace_s=300))
    assert len(found) == 1 and 590 <= found[0][0] <= 593 and found[0][1].visits == 1


def test_a_tour_catches_a_car_that_stays_once_and_counts_only_time_looked():
    at = tour([(20, "p1"), (3, "moving"), (20, "p2"), (3, "moving"), (20, "p3"), (3, "moving")])  # 69 s a cycle
    found = run(1500, parked(5, 10_000), zones=p1_zones, preset=at)
    assert len(found) == 1
    t, v = found[0]
    # 20 s a visit, the car seen standing from about 1 s into each: due on the 7th visit
    assert 6 * 69 <= t <= 7 * 69 and v.visits >= 6
    assert v.dwell_s == pytest.approx(120, abs=0.5) and v.elapsed_s > 400


def test_a_car_that_arrives_while_the_camera_is_away_does_not_inherit_the_timer():
    def scene(t: float) -> list[Detection]:
        # the first car leaves while the camera looks at p2; another arrives after the camera is back
        box = arriving(t, 10, 80) or arriving(t, 125, 10_000)
        return [det(box)] if box else []

    at = tour([(70, "p1"), (50, "p2"), (10_000, "p1")])
    found = run(400, scene, zones=p1_zones, preset=at)
    assert len(found) == 1 and 245 <= found[0][0] <= 246.5 and found[0][1].visits == 1


# --- config ------------------------------------------------------------------------------


def test_config_defaults_are_balikpapans():
    cfg = Config()
    assert [(w.start, w.end) for w in cfg.windows] == [("16:00", "19:00")]
    assert cfg.threshold("no_parking", None) == 120 and cfg.threshold("no_stopping", None) == 30
    assert cfg.threshold("no_stopping", 12) == 12
    assert cfg.kinds["no_parking"].legal_basis.article == "Pasal 287 ayat (3)"


def test_config_refuses_a_zone_kind_that_does_not_exist():
    with pytest.raises(ValueError, match="unknown zone kind 'no_parkin'"):
        Config.model_validate({"kinds": {"no_parkin": {}}})
    with pytest.raises(ValueError, match="unknown zone kind 'queue'"):
        Config.model_validate({"queue_kinds": ["queue"]})
    with pytest.raises(ValueError, match="both watched and a queue kind"):
        Config.model_validate({"queue_kinds": ["no_parking"]})


def test_check_config_names_file_line_and_key_of_an_unknown_zone_kind(make_deployment):
    d = make_deployment(
        """
        [plugins.parking_rule]
        dwell_s = 120

        [plugins.parking_rule.kinds.no_parkin]
        dwell_s = 60
        """
    )
    result = bconnect("check-config", str(d.path))
    assert result.returncode != 0
    line = next(n for n, text in enumerate(d.path.read_text().splitlines(), start=1) if "kinds.no_parkin]" in text)
    assert result.stderr.strip().splitlines()[0] == (
        f"error: {d.path}:{line}: [plugins.parking_rule.kinds.no_parkin] unknown zone kind 'no_parkin' "
        "(kinds: no_parking, no_stopping, traffic_lane, stop_line, queue_area, watched_area, restricted_area)"
    )

