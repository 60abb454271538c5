"""Crime watch's state machine on synthetic scenes, through the real tracker.

Each scene is people's boxes over stream time (someone pacing, a group that
gathers, a group that breaks into a run), turned into detections, run through
``core.analytics.tracker`` at 5 fps, and the tracks handed to the rule with the
camera's zones, as the analyzer does. Times are stream seconds; wall time is a
separate clock (WITA) that a test may step.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from core.analytics.detector import Detection
from core.analytics.tracker import Track, Tracker
from core.analytics.zones import Zone
from core.testing.pytest_plugin import bconnect
from plugins.crime_watch.config import Config
from plugins.crime_watch.rule import CROWD, LOITERING, RESTRICTED, RUNNING, Alert, CrimeRule, FrameInfo

WITA = timezone(timedelta(hours=8))
W, H = 1000, 500
FPS = 5
NIGHT = datetime(2026, 1, 5, 23, 0, tzinfo=WITA)
DAY = datetime(2026, 1, 5, 12, 0, tzinfo=WITA)
AREA = ((0.1, 0.2), (0.9, 0.2), (0.9, 0.95), (0.1, 0.95))  # most of the picture
Scene = Callable[[float], list[Detection]]


def zone(kind: str = "watched_area", points=AREA, **kw) -> Zone:
    return Zone.model_validate({"id": kind.replace("_", "-"), "name": kind, "kind": kind, "points": points, **kw})


def person(cx: float, foot: float, height: float = 100.0) -> Detection:
    return Detection("person", 0.9, cx - height * 0.2, foot - height, cx + height * 0.2, foot)


def run(
    duration: float,
    scene: Scene,
    *,
    zones: tuple[Zone, ...] = (zone(),),
    config: Config | None = None,
    start: datetime = NIGHT,
    wall: Callable[[float], datetime] | None = None,
    stream: Callable[[float], float] = lambda t: t,
    colour: Callable[[float], tuple[float, float, float]] | None = None,
) -> list[tuple[float, Alert]]:
    """Play ``duration`` seconds at 5 fps; the alerts with the (true) second each came at. ``colour``: the
    clothes of whoever is seen at second t (one person at a time), as the analyzer would read them."""
    rule = CrimeRule(config or Config(loiter_s=30, crowd_s=3, crowd_clear_s=3), "Asia/Makassar")
    tracker = Tracker()
    out = []
    for i in range(int(duration * FPS) + 1):
        t = i / FPS
        s = stream(t)
        tracks = tracker.update(scene(t), s)
        colours = {tr.id: colour(t) for tr in tracks if tr.state == "tracked"} if colour else None
        frame = FrameInfo("cam", None, s, wall(t) if wall else start + timedelta(seconds=t), W, H, colours)
        out += [(t, a) for a in rule.update(frame, tracks, zones)]
    return out


def kinds(found) -> list[str]:
    return [a.kind for _, a in found]


def pacing(arrive: float, leave: float, x: float = 500.0, hidden: tuple[float, float] | None = None) -> Scene:
    """Walks in from the left edge (4 s), paces two metres to and fro, then walks out to the left."""
    def scene(t: float) -> list[Detection]:
        if t < arrive - 4 or t > leave + 4 or (hidden and hidden[0] <= t < hidden[1]):
            return []
        if t < arrive:
            cx = x - (arrive - t) * 110.0
        elif t > leave:
            cx = x - (t - leave) * 110.0
        else:
            cx = x + 60.0 * math.sin((t - arrive) * 0.6)
        return [person(cx, 400.0)] if cx > 30 else []
    return scene


def together(*scenes: Scene) -> Scene:
    return lambda t: [d for s in scenes for d in s(t)]


# --- loitering ---------------------------------------------------------------------------------


def test_a_person_pacing_in_a_watched_area_gives_one_loitering_alert_at_the_threshold():
    found = run(120, pacing(10, 10_000))
    assert kinds(found) == [LOITERING]  # one, though they stay another 80 s
    t, alert = found[0]
    assert 36 <= t <= 37.5  # in the zone from about 6.4 s (its left edge at x=100), 30 s threshold
    assert alert.zone_id == "watched-area" and alert.priority == "normal" and len(alert.track_ids) == 1
    assert alert.facts["threshold_s"] == 30 and alert.facts["dwell_s"] == pytest.approx(30, abs=0.3)
    event = alert.event()
    assert event.kind == "crime.loitering" and event.priority == "normal" and event.track_id == alert.track_ids[0]
    assert event.detail["since_s"] == pytest.approx(30, abs=0.5) and event.detail["people"] == 1


def test_walking_through_or_a_short_stay_gives_nothing_and_a_zones_dwell_s_wins():
    assert run(60, pacing(10, 30)) == []  # 20 s, under the threshold
    found = run(60, pacing(10, 30), zones=(zone(dwell_s=15),))
    assert kinds(found) == [LOITERING] and 21 <= found[0][0] <= 22.5


def test_leaving_and_coming_back_starts_a_new_stay():
    found = run(200, together(pacing(10, 60), pacing(90, 10_000)))
    assert kinds(found) == [LOITERING, LOITERING]
    assert 36 <= found[0][0] <= 37.5 and 116 <= found[1][0] <= 117.5


def test_a_person_hidden_for_a_moment_keeps_the_timer():
    found = run(80, pacing(10, 10_000, hidden=(20, 22)))
    assert kinds(found) == [LOITERING] and 36 <= found[0][0] <= 37.5  # 2 s hidden still counted (occlusion_s 3)


def test_a_stay_due_while_its_person_is_hidden_waits_to_see_them_and_one_never_seen_again_gives_nothing():
    # in the zone from about 6.4 s: due at 36.4 s; hidden 35-38 s, the alert comes when they are seen again, on
    # their box; a walker who walks behind a wall for good just before the threshold is no loiterer to show
    found = run(80, pacing(10, 10_000, hidden=(35, 38)))
    assert kinds(found) == [LOITERING] and 38 <= found[0][0] <= 38.5
    assert found[0][1].facts["dwell_s"] >= 30
    assert run(80, pacing(10, 10_000, hidden=(35, 10_000))) == []
    # in a restricted area an intruder who ducks behind cover before restricted_s is reported all the same
    yard = zone("restricted_area")
    found = run(30, pacing(10, 10_000, hidden=(8.8, 10_000)), zones=(yard,), start=DAY)
    assert kinds(found) == [RESTRICTED] and 9 <= found[0][0] <= 10.5


def test_a_person_hidden_until_the_tracker_drops_them_continues_their_stay_once_back():
    # hidden 8 s: the tracker drops the track after 5 s; the person is back where they were lost: one stay,
    # the 5 hidden seconds beyond occlusion_s not counted
    found = run(120, pacing(10, 10_000, hidden=(20, 28)))
    assert kinds(found) == [LOITERING]
    assert 40 <= found[0][0] <= 45 and found[0][1].facts["dwell_s"] == pytest.approx(30, abs=0.3)


DARK, WHITE, YELLOW = (33.0, 30.0, 29.0), (182.0, 179.0, 181.0), (201.0, 160.0, 42.0)  # seeds 1414 and 1111


def test_someone_dressed_plainly_otherwise_on_a_lost_persons_spot_starts_a_stay_of_their_own():
    """A paces from 10 s and goes in at a door at 28 s; B comes out on the same spot at 34 s and paces on (seed
    1111: two walkers at two doors; 1414: two walkers crossing). By boxes alone B continues A's stay and is
    reported at about 39 s; in other clothes B is timed from their own arrival. A's own return (the same
    clothes, under another light) still continues the stay."""
    scene = pacing(10, 10_000, hidden=(28, 34))
    other = run(90, scene, colour=lambda t: DARK if t < 30 else WHITE)
    assert kinds(other) == [LOITERING] and 63 <= other[0][0] <= 65  # B's 30 s, from 34 s
    assert kinds(run(90, scene, colour=lambda t: DARK if t < 30 else YELLOW)) == [LOITERING]
    assert run(90, scene, colour=lambda t: DARK if t < 30 else YELLOW)[0][0] >= 63
    for same in (lambda t: DARK, lambda t: DARK if t < 30 else (50.0, 44.0, 40.0)):  # darker, then lit by a lamp
        back = run(90, scene, colour=same)
        assert kinds(back) == [LOITERING] and 38 <= back[0][0] <= 42
    off = run(90, scene, colour=lambda t: DARK if t < 30 else WHITE,
              config=Config(loiter_s=30, crowd_s=3, crowd_clear_s=3, clothing_check=False))
    assert kinds(off) == [LOITERING] and 38 <= off[0][0] <= 42  # boxes alone: one stay
    assert kinds(run(90, scene)) == [LOITERING] and run(90, scene)[0][0] <= 42  # no colours read: the same


def test_a_person_the_detector_finds_in_one_frame_of_three_gives_one_alert_at_the_threshold():
    """A real detector at night (SSD, about a third of the people found): the timer runs through the misses."""
    import random

    rng = random.Random(5)
    seen = pacing(10, 10_000)
    found = run(120, lambda t: [d for d in seen(t) if rng.random() < 0.35])
    assert kinds(found) == [LOITERING]
    assert 36 <= found[0][0] <= 40


def _track(tid: int, box, t: float, state: str = "tracked", first: float = 0.0) -> Track:
    return Track(id=tid, label="person", score=0.9, box=box, state=state, first_seen=first, last_seen=t, hits=10,
                 stationary_since=first, velocity=(0.0, 0.0), history=((t, *box),))


def test_two_tracks_on_one_loiterer_give_one_alert():
    """A second track on the same person (a second box the tracker could not merge, a track born on a lost
    one): the rule reports the person once."""
    rule = CrimeRule(Config(loiter_s=30), "Asia/Makassar")
    box, near = (480.0, 300.0, 520.0, 400.0), (484.0, 302.0, 522.0, 398.0)
    alerts = []
    for i in range(60 * FPS):
        t = i / FPS
        tracks = [_track(1, box, t if t < 35 else 35.0, "tracked" if t < 35 else "lost")] if t < 40 else []
        if t >= 8:
            tracks.append(_track(2, near, t, first=8.0))
        frame = FrameInfo("cam", None, t, NIGHT + timedelta(seconds=t), W, H)
        alerts += [(t, a) for a in rule.update(frame, tracks, (zone(),))]
    assert kinds(alerts) == [LOITERING] and alerts[0][1].track_ids == (1,) and 29.5 <= alerts[0][0] <= 30.5


def _stander(tid: int, cx: float, t: float, first: float, *, lost_at: float | None = None, speed: float = 0.0) -> Track:
    seen = t if lost_at is None else lost_at
    box = (cx + speed * (seen - first) - 20.0, 280.0, cx + speed * (seen - first) + 20.0, 380.0)
    return Track(id=tid, label="person", score=0.9, box=box, state="tracked" if lost_at is None else "lost",
                 first_seen=first, last_seen=seen, hits=10, stationary_since=first if not speed else seen,
                 velocity=(speed, 0.0), history=((first, cx - 20.0, 280.0, cx + 20.0, 380.0), (seen, *box)))


def test_a_lost_track_whose_stay_a_new_track_took_starts_no_second_stay_for_a_newcomer_to_take():
    """A and B stand from 0 s; both tracks are lost at 10 s (the tracker holds them). Two new tracks come out
    beside B's spot and run off: the first takes B's stay, the second A's (the only one left; before, the held
    track B had started a fresh stay, nearer, and the second took that). A passer-by who then stops beside A's
    spot starts a stay of their own: no alert before they have stood 30 s."""
    rule = CrimeRule(Config(loiter_s=30), "Asia/Makassar")
    found = []
    for i in range(int(40 * FPS)):
        t = i / FPS
        lost = None if t < 10 else 10.0
        tracks = [_stander(1, 300.0, t, 0.0, lost_at=lost), _stander(2, 400.0, t, 0.0, lost_at=lost)]
        if t >= 10.4:
            tracks.append(_stander(3, 380.0, t, 10.4, speed=300.0))
        if t >= 10.8:
            tracks.append(_stander(4, 390.0, t, 10.8, speed=300.0))
        if t >= 11.2:
            tracks.append(_stander(5, 250.0, t, 11.2))
        frame = FrameInfo("cam", None, t, NIGHT + timedelta(seconds=t), W, H)
        found += [(t, a) for a in rule.update(frame, tracks, (zone(),))]
    assert found == []


def test_someone_walking_out_at_the_edge_where_someone_walks_in_is_not_one_long_stay():
    """A walks right and out of the picture at its edge, B walks in there the same moment and back left: the
    tracker gives B A's id (one box shrinks into the edge as the other grows out of it). A stood 12 s in view,
    B 26 s: nobody stayed 30 s. A person standing with a shoulder cut off by the edge still counts."""
    whole = zone(points=((0.0, 0.2), (1.0, 0.2), (1.0, 0.95), (0.0, 0.95)))

    def crossing(t: float) -> list[Detection]:
        cx = 640.0 + 30.0 * t if t < 12.8 else W + 10.0 - 30.0 * (t - 12.8)
        x1, x2 = max(cx - 20.0, 0.0), min(cx + 20.0, float(W))
        return [Detection("person", 0.9, x1, 300.0, x2, 400.0)] if x2 - x1 >= 4 else []

    assert run(38, crossing, zones=(whole,)) == []
    at_edge = run(38, lambda t: [Detection("person", 0.9, W - 28.0, 300.0, float(W), 400.0)], zones=(whole,))
    assert kinds(at_edge) == [LOITERING]


def test_loitering_counts_only_in_its_hours_and_a_night_window_runs_across_midnight():
    assert run(80, pacing(10, 10_000), start=DAY) == []  # default hours 22:00-05:00
    found = run(80, pacing(10, 10_000), start=datetime(2026, 1, 6, 4, 59, 40, tzinfo=WITA))
    assert found == []  # 05:00 comes 20 s in, 14 s after the person: the hours end before the 30 s
    found = run(80, pacing(10, 10_000), start=datetime(2026, 1, 5, 23, 59, 50, tzinfo=WITA))
    assert kinds(found) == [LOITERING] and 36 <= found[0][0] <= 37.5  # on across midnight
    own = zone(windows=["11:00-13:00"])  # a zone's own hours win
    assert kinds(run(80, pacing(10, 10_000), zones=(own,), start=DAY)) == [LOITERING]
    assert run(80, pacing(10, 10_000), config=Config(loiter_s=30, loiter_windows=[{"start": "00:00", "end": "01:00"}]),
               start=DAY) == []


def test_clock_steps_neither_fire_early_nor_repeat():
    def stepped(jump_h: float) -> Callable[[float], datetime]:
        return lambda t: DAY.replace(hour=23) + timedelta(seconds=t, hours=jump_h if t >= 20 else 0)
    for jump in (1.0, -1.0, 1 / 60):
        found = run(70, pacing(10, 10_000), wall=stepped(jump), config=Config(loiter_s=30, loiter_windows=[]))
        assert kinds(found) == [LOITERING] and 36 <= found[0][0] <= 37.5, jump


def test_a_stream_that_restarts_does_not_report_the_same_loiterer_twice():
    # the stream's clock goes back at 45 s (a camera reboot): the tracker restarts, the person is still there
    found = run(100, pacing(10, 10_000), stream=lambda t: t if t < 45 else t - 45)
    assert kinds(found) == [LOITERING] and 36 <= found[0][0] <= 37.5


# --- crowds ------------------------------------------------------------------------------------


def gathering(n: int, arrive: float, leave: float, dip: tuple[float, float] | None = None, x0: float = 200.0) -> Scene:
    """``n`` people standing side by side from ``arrive`` (one a second, walking in) until ``leave``."""
    def scene(t: float) -> list[Detection]:
        out = []
        for k in range(n):
            come, go = arrive + k, leave + k * 0.2
            if not (come - 3 <= t <= go) or (dip and k >= n - 3 and dip[0] <= t < dip[1]):
                continue
            cx = x0 + k * 60.0 + (min(t - come, 0.0) * 80.0)
            out.append(person(cx, 420.0 + (k % 2) * 30.0))
        return out
    return scene


def test_a_crowd_above_the_count_gives_one_alert_per_gathering():
    found = run(90, gathering(10, 5, 60), config=Config(crowd_size=8, crowd_s=3, crowd_clear_s=3, loiter_s=30))
    assert kinds(found) == [CROWD]  # not ten loiterers: standing in a reported crowd is part of it
    t, alert = found[0]
    assert 15 <= t <= 18  # the 8th arrives at 12 s, stands 1 s, 3 s more
    assert alert.facts["count"] >= 8 and len(alert.boxes) == alert.facts["count"] and alert.priority == "normal"
    # a dip below the count for a moment is the same gathering; a new one after it broke up is new
    found = run(150, together(gathering(10, 5, 50, dip=(25, 27)), gathering(10, 80, 120)),
                config=Config(crowd_size=8, crowd_s=3, crowd_clear_s=3))
    assert kinds(found) == [CROWD, CROWD] and found[1][0] > 85


def test_loitering_waits_for_the_verdict_on_a_gathering_being_counted():
    """Ten people gather one a second from 5 s; the first has been in the area 20 s (the loitering threshold) at
    23.6 s, while the gathering (8 from 12 s) is still being counted (crowd_s 12): one crowd alert, no loiterer.
    Alone, the same first person is a loiterer then."""
    cfg = Config(crowd_size=8, crowd_s=12, crowd_clear_s=3, loiter_s=20)
    found = run(60, gathering(10, 5, 50), config=cfg)
    assert kinds(found) == [CROWD] and 24 <= found[0][0] <= 26
    alone = run(60, gathering(1, 5, 50), config=cfg)
    assert kinds(alone) == [LOITERING] and 23 <= alone[0][0] <= 24


def test_a_crowd_whose_boxes_merge_and_split_is_counted_and_people_walking_past_slowly_are_not():
    """In a crowd the detector boxes two people as one and splits them again: each box jumps by half a width every
    other frame, so the tracker's stationary time keeps restarting. Seen a second and drifting at a shuffle, they
    are a gathering all the same. Ten people walking past side by side at 0.6 heights a second are not, nor ten
    walking towards the camera, who move little in the picture but steadily."""
    cfg = Config(crowd_size=8, crowd_s=3, crowd_clear_s=3, loiter_s=60)
    steady = gathering(10, 5, 50)

    def jumping(t: float) -> list[Detection]:
        k = round(t * FPS)
        shift = 20.0 if k % 2 else 0.0  # half a box's width
        return [Detection(d.label, d.score, d.x1 + shift, d.y1, d.x2 + shift, d.y2) for d in steady(t)]

    seen = []
    tracker = Tracker()
    for i in range(int(20 * FPS)):
        tracks = tracker.update(jumping(i / FPS), i / FPS)
        seen += [tr.stationary_s for tr in tracks if tr.state == "tracked"]
    assert max(seen) < cfg.crowd_still_s  # the premise: the tracker never sees them stand still
    found = run(60, jumping, config=cfg)
    assert kinds(found) == [CROWD] and 13 <= found[0][0] <= 18  # the 8th arrives at 12 s

    def walking(t: float) -> list[Detection]:
        return [person(60.0 * k - 600.0 + 60.0 * t, 420.0 + (k % 2) * 30.0) for k in range(10)]

    def coming_closer(t: float) -> list[Detection]:  # head-on, 0.15 heights a second, growing as they come
        return [person(150.0 + 70.0 * k, 250.0 + 15.0 * t, 80.0 + 1.5 * t) for k in range(10)]

    assert CROWD not in kinds(run(30, walking, config=cfg))
    assert CROWD not in kinds(run(15, coming_closer, config=cfg))


def test_fewer_people_than_the_count_are_no_crowd():
    assert CROWD not in kinds(run(60, gathering(7, 5, 50), config=Config(crowd_size=8, crowd_s=3)))


# --- restricted areas --------------------------------------------------------------------------


def test_a_person_in_a_restricted_area_out_of_hours_gives_one_high_priority_alert():
    yard = zone("restricted_area", windows=["22:00-05:00"])
    found = run(60, pacing(10, 10_000), zones=(yard,), start=datetime(2026, 1, 6, 1, 0, tzinfo=WITA))
    assert kinds(found) == [RESTRICTED] and 9 <= found[0][0] <= 10.5  # in from about 6.4 s, 3 s
    assert found[0][1].priority == "high" and found[0][1].event().priority == "high"
    assert run(60, pacing(10, 10_000), zones=(yard,), start=DAY) == []  # open hours
    assert kinds(run(30, pacing(10, 10_000), zones=(zone("restricted_area"),), start=DAY)) == [RESTRICTED]


# --- running -----------------------------------------------------------------------------------


def group(n: int, go: float, speed_h: float, *, calm_first: bool = True, height: float = 100.0, y: float = 380.0) -> Scene:
    """``n`` people standing in a row from the start, who move off right at ``go`` at ``speed_h`` heights a second.

    Without ``calm_first`` they are already moving at that speed when they come into view.
    """
    def scene(t: float) -> list[Detection]:
        out = []
        for k in range(n):
            x = 150.0 + k * height * 0.7
            h = height * (1.0 + 0.3 * k)  # nearer and nearer: speed in heights a second is the same for all
            foot = y + k * 25.0
            if calm_first:
                moved = max(t - go - k * 0.2, 0.0)
                # a second to reach full speed
                dx = 0.5 * speed_h * h * moved * moved if moved < 1.0 else speed_h * h * (moved - 0.5)
            else:
                dx = speed_h * h * (t - go)
            cx = x + dx
            if 0 < cx < W * 0.88:
                out.append(person(cx, foot, h))
        return out
    return scene


def test_several_people_who_suddenly_run_give_one_running_alert():
    found = run(20, group(4, 5.0, 3.0))
    assert kinds(found) == [RUNNING]
    t, alert = found[0]
    assert 5.5 <= t <= 8.0
    assert alert.facts["runners"] >= 3 and alert.priority == "high"
    assert all(s >= 1.8 for s in alert.facts["speeds_heights_per_s"])


def test_one_jogger_a_group_already_running_and_people_walking_off_together_give_nothing():
    assert RUNNING not in kinds(run(20, group(1, 5.0, 3.0)))
    assert RUNNING not in kinds(run(20, group(2, 5.0, 3.0)))  # below min_runners
    assert RUNNING not in kinds(run(12, group(4, -10.0, 3.0, calm_first=False)))  # a jogging club passing by
    assert RUNNING not in kinds(run(20, group(4, 5.0, 0.9)))  # the crossing turns green: a walk


def _runner_track(tid: int, cx: float, t: float, first: float, speed: float) -> Track:
    box = (cx - 20.0, 280.0, cx + 20.0, 380.0)
    return Track(id=tid, label="person", score=0.9, box=box, state="tracked", first_seen=first, last_seen=t, hits=10,
                 stationary_since=first, velocity=(speed, 0.0), history=((first, *box), (t, *box)))


def _swapping_group(t: float, go: float, bystanders: bool) -> list[Track]:
    """Four people 100 px tall at x 200, 260, 320, 380; D (380) stands hidden behind C until the run.

    With ``bystanders`` False they break into a run (3 heights a second) at ``go`` and the tracker swaps: track 1
    (A's) jumps onto D, and A comes out on a new track 4, already fast. With ``bystanders`` True, A, B and C stand
    on and three joggers come into view already running, right past them.
    """
    xs = {"A": 200.0, "B": 260.0, "C": 320.0, "D": 380.0}
    if t < go:
        return [_runner_track(i, xs[p], t, 0.0, 0.0) for i, p in ((1, "A"), (2, "B"), (3, "C"))]
    moved = 300.0 * (t - go)
    if bystanders:
        calm = [_runner_track(i, xs[p], t, 0.0, 0.0) for i, p in ((1, "A"), (2, "B"), (3, "C"))]
        return calm + [_runner_track(10 + k, 140.0 + 60.0 * k + moved, t, go, 300.0) for k in range(3)]
    return [
        _runner_track(1, xs["D"] + moved, t, 0.0, 300.0),
        _runner_track(2, xs["B"] + moved, t, 0.0, 300.0),
        _runner_track(3, xs["C"] + moved, t, 0.0, 300.0),
        _runner_track(4, xs["A"] + moved, t, go, 300.0),
    ]


@pytest.mark.parametrize("bystanders", [False, True])
@pytest.mark.parametrize("hidden_long_ago", [False, True])
def test_a_group_whose_ids_swap_as_it_breaks_into_a_run_is_counted_whole_and_joggers_past_bystanders_are_not(
    bystanders, hidden_long_ago,
):
    # the new track that comes out where A stood calm, a moment after A's track left the spot, is A breaking into a
    # run; a jogger passing people who stand on is not (their tracks are still where they were calm). Someone far
    # off, calm and then hidden since 1 s (the tracker holds a standing track), is no runner's calm to inherit
    rule = CrimeRule(Config(min_runners=4), "Asia/Makassar")
    found = []
    for i in range(int(8 * FPS)):
        t = i / FPS
        frame = FrameInfo("cam", None, t, DAY + timedelta(seconds=t), W, H)
        tracks = _swapping_group(t, 5.0, bystanders)
        if hidden_long_ago:
            far = _runner_track(0, 800.0, min(t, 1.0), 0.0, 0.0)
            tracks.insert(0, far if t <= 1.0 else dataclasses.replace(far, state="lost"))  # the tracker's id order
        found += [(t, a) for a in rule.update(frame, tracks, (zone(),))]
    if bystanders:
        assert found == []
    else:
        assert kinds(found) == [RUNNING] and set(found[0][1].track_ids) == {1, 2, 3, 4}


@pytest.mark.parametrize("comes_back", [True, False])
def test_a_track_lost_for_a_frame_as_its_group_runs_is_a_runner_when_it_comes_back_but_its_calm_is_given_once(
    comes_back,
):
    """A, B and C stand calm (tracks 1, 2, 3); D stands hidden behind C. At 5 s track 1 is lost for a frame and A
    comes out on a new track 4, already fast, which takes track 1's calm. With ``comes_back``, A, B and D run (C
    stays) and the tracker finds track 1 again the next frame, on D, running: three runners (1, 2, 4). Without, only
    A runs, track 1 stays lost and a second new fast track (5) comes out near A: track 1's calm was given once
    already, so 5 is no runner and one runner (4) is too few for two."""
    go = 5.0
    rule = CrimeRule(Config(min_runners=3 if comes_back else 2), "Asia/Makassar")
    found = []
    for i in range(int(9 * FPS)):
        t = i / FPS
        moved = 300.0 * max(t - go, 0.0)
        if t < go:
            tracks = [_runner_track(k, x, t, 0.0, 0.0) for k, x in ((1, 200.0), (2, 260.0), (3, 320.0))]
        else:
            b = _runner_track(2, 260.0 + moved, t, 0.0, 300.0) if comes_back else _runner_track(2, 260.0, t, 0.0, 0.0)
            tracks = [b, _runner_track(3, 320.0, t, 0.0, 0.0)]
            if t < go + 0.1 or not comes_back:
                tracks.insert(0, dataclasses.replace(_runner_track(1, 200.0, go - 0.2, 0.0, 0.0), state="lost"))
            else:
                tracks.insert(0, _runner_track(1, 380.0 + moved, t, 0.0, 300.0))  # found again, on D
            tracks.append(_runner_track(4, 200.0 + moved, t, go, 300.0))
            if not comes_back and t >= go + 0.1:
                tracks.append(_runner_track(5, 170.0 + moved, t, go + 0.2, 300.0))
        frame = FrameInfo("cam", None, t, DAY + timedelta(seconds=t), W, H)
        found += [(t, a) for a in rule.update(frame, tracks, (zone(),))]
    if comes_back:
        assert kinds(found) == [RUNNING] and set(found[0][1].track_ids) == {1, 2, 4}
    else:
        assert found == []


# --- the event, bad input ----------------------------------------------------------------------


def test_the_event_carries_boxes_and_numbers_only():
    (_, alert), = run(60, pacing(10, 10_000), config=Config(loiter_s=20))
    event = alert.event()
    text = json.dumps(event.detail)
    assert set(event.detail) == {"dwell_s", "threshold_s", "zone_kind", "people", "tracks", "boxes", "since_s"}
    assert len(text) < 400 and event.snapshot is None  # the analyzer adds the whole-frame snapshot, nothing else


def test_config_defaults_are_balikpapans_and_bad_values_are_refused():
    cfg = Config()
    assert cfg.loiter_s == 300 and cfg.crowd_size == 8 and [(w.start, w.end) for w in cfg.loiter_windows] == [("22:00", "05:00")]
    with pytest.raises(ValueError, match="unknown zone kind 'watched'"):
        Config.model_validate({"watched_kinds": ["watched"]})
    with pytest.raises(ValueError, match="both watched and restricted"):
        Config.model_validate({"restricted_kinds": ["watched_area"]})
    with pytest.raises(ValueError, match="calm_speed"):
        Config.model_validate({"calm_speed": 2.0, "run_speed": 1.5})
    with pytest.raises(ValueError, match="minute 60"):
        Config.model_validate({"loiter_windows": [{"start": "16:60", "end": "17:00"}]})


def test_check_config_names_file_line_and_key_of_an_unknown_zone_kind(make_deployment):
    d = make_deployment('[plugins.crime_watch]\nloiter_s = 300\nwatched_kinds = ["plaza"]\n')
    result = bconnect("check-config", str(d.path))
    assert result.returncode != 0
    line = next(n for n, text in enumerate(d.path.read_text().splitlines(), start=1) if "watched_kinds" in text)
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"error: {d.path}:{line}: [plugins.crime_watch.watched_kinds") and "unknown zone kind 'plaza'" in first
