"""The tracker against synthetic scenes whose truth is known (tests/support/tracking_scenes.py).

The detections are made up, not a detector's: the tracker's input is a list
of boxes with labels and scores, and a scene generator gives every property a
real detector has (jitter, misses, half-hidden objects scoring low, label
flicker, false positives) with the truth beside it. Seeds are fixed.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from core.analytics.assignment import hungarian, iou_matrix, match
from core.analytics.tracker import Tracker, TrackerConfig, ViewTrackers
from support.tracking_scenes import (
    Detection,
    NaiveIouTracker,
    Noise,
    Scene,
    Thing,
    bus_passes_parked_car,
    bus_stops_in_front_of_parked_car,
    car_passes_behind_bus,
    crossing_people,
    parked_and_creeping,
    run,
    score,
    traffic,
)


def make_det(label: str, score: float, box) -> Detection:
    return Detection(label, score, *box)

SEEDS = range(4)
ROOT = Path(__file__).resolve().parent.parent


def ids_of(outputs, frames, oid):
    """The ids of the visible tracks that overlap object ``oid``'s true box (IoU >= 0.5), frame by frame."""
    seen = []
    for frame, tracks in zip(frames, outputs):
        if oid not in frame.truth:
            continue
        for tr in tracks:
            if tr.state == "tracked" and iou_matrix(np.array([frame.truth[oid]]), np.array([tr.box]))[0, 0] >= 0.5:
                seen.append(tr.id)
    return seen


# --- matching ----------------------------------------------------------------


def test_hungarian_finds_the_cheapest_assignment_of_any_rectangular_matrix():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n, m = (int(v) for v in rng.integers(1, 6, 2))
        cost = np.round(rng.random((n, m)) * 4)  # ties on purpose
        pairs = hungarian(cost)
        assert len(pairs) == min(n, m)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
        got = sum(cost[r, c] for r, c in pairs)
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        else:
            best = min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
        assert got == pytest.approx(best)


def test_match_maximises_overlap_where_greedy_would_not_and_respects_the_threshold():
    # greedy takes (0, 0) at 0.9 first and leaves row 1 with nothing; the optimum pairs both
    iou = np.array([[0.9, 0.8], [0.85, 0.0]])
    pairs, rows, cols = match(iou, 0.3)
    assert pairs == [(0, 1), (1, 0)] and rows == [] and cols == []
    pairs, rows, cols = match(np.array([[0.25, 0.0], [0.0, 0.6]]), 0.3)
    assert pairs == [(1, 1)] and rows == [0] and cols == [0]
    # a weight may prefer one feasible pair over another, never make an infeasible one feasible
    iou = np.array([[0.6, 0.5]])
    assert match(iou, 0.3, weight=np.array([[0.3, 0.5]]))[0] == [(0, 1)]
    assert match(np.array([[0.2]]), 0.3, weight=np.array([[1.0]]))[0] == []


def test_match_leaves_a_row_alone_rather_than_shift_a_chain_of_neighbours():
    # four people in a row, each overlapping the next a little; the first one's box is missing this frame, and a
    # newcomer's box overlaps the last. Pairing the most rows would shift every id one box along the row
    iou = np.array([
        [0.25, 0.0, 0.0, 0.0],  # row 0: its own box is missing; overlaps row 1's a little
        [1.0, 0.25, 0.0, 0.0],
        [0.25, 1.0, 0.25, 0.0],
        [0.0, 0.25, 1.0, 0.3],  # the newcomer (column 3) stands behind row 3
    ])
    pairs, rows, cols = match(iou, 0.2)
    assert pairs == [(1, 0), (2, 1), (3, 2)] and rows == [0] and cols == [3]


def test_people_standing_in_a_row_keep_their_ids_when_one_is_hidden_and_one_steps_out_behind():
    from core.analytics.detector import Detection

    def row(t: float) -> list[Detection]:
        xs = [100.0, 116.0, 132.0, 148.0]  # 24 px wide, 8 px overlap with the next: IoU 0.2
        if 3.0 <= t < 3.4:
            xs = xs[1:] + [164.0]  # the first is hidden; someone steps out from behind the last
        return [Detection("person", 0.9, x, 100.0, x + 24.0, 160.0) for x in xs]

    tracker = Tracker()
    ids: dict[float, int] = {}
    for k in range(30):
        for tr in tracker.update(row(k / 5), k / 5):
            if tr.state == "tracked":
                ids.setdefault(tr.box[0], tr.id)
                assert ids[tr.box[0]] == tr.id, f"{k / 5:.1f} s: the person at x {tr.box[0]:g} changed id"


def test_iou_matrix_of_known_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], dtype=float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    assert iou_matrix(a, b) == pytest.approx(np.array([[50 / 150, 0.0], [0.0, 0.0]]))
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


# --- scenes --------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_a_bus_passing_in_front_of_a_parked_car_for_2_s_does_not_change_the_cars_id(seed):
    frames = bus_passes_parked_car(fps=5, hidden_s=2.0).frames(seed)
    hidden = [f.t for f in frames if f.visibility.get(1, 1.0) == 0.0]
    assert hidden[-1] - hidden[0] >= 1.8  # the car really is out of sight for about 2 s
    tracker = Tracker()
    outputs = run(tracker, frames)
    car_ids = set(ids_of(outputs, frames, 1))
    bus_ids = set(ids_of(outputs, frames, 2))
    assert len(car_ids) == 1 and len(bus_ids) == 1 and car_ids != bus_ids
    car = [tr for tracks in outputs[-3:] for tr in tracks if tr.id in car_ids and tr.state == "tracked"][-1]
    assert car.label == "car"
    # the timer a parking rule reads ran through the occlusion: stood still since (nearly) the start
    assert car.stationary_since <= 1.0 and car.stationary_s >= 19.0
    assert car.first_seen == 0.0 and car.last_seen >= frames[-3].t


@pytest.mark.parametrize("fps", [2.0, 10.0])
def test_the_car_keeps_its_id_at_other_frame_rates(fps):
    frames = bus_passes_parked_car(fps=fps, hidden_s=2.0).frames(1)
    outputs = run(Tracker(), frames)
    assert len(set(ids_of(outputs, frames, 1))) == 1


def test_a_bus_stopping_in_front_of_a_parked_car_for_20_s_does_not_change_the_cars_id():
    frames = bus_stops_in_front_of_parked_car(stop_s=20.0).frames(2)
    hidden = [f.t for f in frames if f.visibility.get(1, 1.0) == 0.0]
    assert hidden[-1] - hidden[0] >= 19.0
    outputs = run(Tracker(), frames)
    (car_id,) = set(ids_of(outputs, frames, 1))
    car = [tr for tracks in outputs for tr in tracks if tr.id == car_id][-1]
    assert car.stationary_since <= 1.0 and car.last_seen >= 59.0  # one stay of a minute, not two stays


def test_a_moving_car_passing_behind_a_bus_keeps_its_id_where_the_baseline_loses_it():
    """ByteTrack's own setting, every unsure box for a moving track (moving_low_score = low_score): 10 of 10 seeds.
    The default takes a moving track's unsure boxes from 0.3 only (the default detector's 0.1-0.3 boxes near a
    moving car are as often something else: docs/analytics.md); the half-hidden car then keeps its id in 9 of 10."""
    kept = 0
    for seed in range(10):
        frames = car_passes_behind_bus().frames(seed)
        assert min(f.visibility[1] for f in frames) == 0.0
        assert len(set(ids_of(run(Tracker(TrackerConfig(moving_low_score=0.1)), frames), frames, 1))) == 1, seed
        kept += len(set(ids_of(run(Tracker(), frames), frames, 1))) == 1
        assert len(set(ids_of(run(NaiveIouTracker(), frames), frames, 1))) >= 2
    assert kept >= 9


@pytest.mark.parametrize("seed", SEEDS)
def test_people_crossing_each_other_keep_their_ids_where_frame_to_frame_iou_swaps_them(seed):
    frames = crossing_people().frames(seed)
    ours = score(frames, run(Tracker(), frames))
    naive = score(frames, run(NaiveIouTracker(), frames))
    assert ours.id_switches == 0
    assert all(len(ids) == 1 for ids in ours.ids_per_object.values())
    assert naive.id_switches >= 5  # the baseline is not a straw man in a scene this easy: it does fail here
    assert ours.mota > naive.mota


def test_a_parked_car_stays_stationary_through_jitter_and_a_creeping_one_does_not():
    scene = parked_and_creeping()
    frames = scene.frames(3)
    outputs = run(Tracker(), frames)
    parked_id, = set(ids_of(outputs, frames, 1))
    creeping_id, = set(ids_of(outputs, frames, 2))
    for frame, tracks in zip(frames, outputs):
        by_id = {tr.id: tr for tr in tracks}
        parked, creeping = by_id.get(parked_id), by_id.get(creeping_id)
        if parked is not None:
            assert parked.stationary_since <= 1.0  # 3 % jitter never reads as movement
            if frame.t >= 2.0:
                assert parked.speed < 5.0  # px/s, against the creeping car's 12
        if creeping is not None and frame.t < 10.0:
            assert creeping.stationary_s < 4.0, frame.t  # 12 px/s is movement, not a stop
            if frame.t > 2.0:
                assert 6.0 < creeping.speed < 20.0 and creeping.velocity[0] > 0  # 12 px/s, 3 % jitter
    creeping = {tr.id: tr for tr in outputs[-1]}[creeping_id]
    assert 9.0 <= creeping.stationary_since <= 12.0  # it stopped at t = 10 s
    assert creeping.stationary_s >= 8.0


@pytest.mark.parametrize("objects,seed", [(10, 0), (10, 1), (40, 0), (40, 2)])
def test_busy_traffic_mota_and_id_switches_against_the_naive_baseline(objects, seed):
    frames = traffic(objects, seed=seed).frames(seed)
    ours = score(frames, run(Tracker(), frames))
    naive = score(frames, run(NaiveIouTracker(), frames))
    assert ours.mota >= 0.78 and ours.mota > naive.mota, (ours.as_dict(), naive.as_dict())
    assert ours.id_switches * 4 <= naive.id_switches, (ours.as_dict(), naive.as_dict())
    assert ours.id_switches <= 0.015 * ours.truth


# --- track properties ----------------------------------------------------------


def single(label="car", flicker=0.0, seconds=10.0, path=None, miss=0.0) -> list:
    thing = Thing(1, label, (120, 70), path or [(0.0, 400, 300), (seconds, 400, 300)])
    return Scene("one", [thing], seconds, noise=Noise(flicker=flicker, false_positives=0.0, miss=miss)).frames(5)


def test_a_tracks_label_is_the_majority_of_what_the_detector_said():
    frames = single(flicker=0.3)
    said = [d.label for f in frames for d in f.detections]
    assert 0.15 < said.count("truck") / len(said) < 0.45
    outputs = run(Tracker(), frames)
    labels = {tr.label for tracks in outputs[5:] for tr in tracks}
    assert labels == {"car"}


def test_a_track_is_confirmed_and_numbered_only_after_min_hits_in_a_row():
    tracker = Tracker(TrackerConfig(min_hits=3))
    det = make_det("car", 0.9, (100, 100, 200, 160))
    flash = make_det("person", 0.9, (600, 100, 640, 200))  # a one-frame false positive
    assert tracker.update([det, flash], 0.0) == []
    assert tracker.update([det], 0.2) == []
    (track,) = tracker.update([det], 0.4)
    assert track.id == 1 and track.hits == 3 and track.first_seen == 0.0 and track.last_seen == 0.4
    other = make_det("car", 0.9, (400, 300, 500, 360))
    for t in (0.6, 0.8, 1.0):
        tracks = tracker.update([det, other], t)
    assert [tr.id for tr in tracks] == [1, 2]  # the flash never took a number


def test_low_score_detections_keep_a_track_but_never_start_one():
    tracker = Tracker()
    box = (100, 100, 200, 160)
    for k in range(3):
        tracker.update([make_det("car", 0.9, box)], k * 0.2)
    for k in range(3, 20):  # a moving track (not yet still for a second) keeps on boxes from moving_low_score 0.3 ...
        (track,) = tracker.update([make_det("car", 0.35, box)], k * 0.2)
        assert track.state == "tracked" and track.id == 1
    for k in range(20, 40):  # ... one that stands, from low_score 0.1
        (track,) = tracker.update([make_det("car", 0.12, box)], k * 0.2)
        assert track.state == "tracked" and track.id == 1
    moving = Tracker()
    for k in range(3):
        moving.update([make_det("car", 0.9, box)], k * 0.2)
    (track,) = moving.update([make_det("car", 0.2, box)], 0.6)  # moving: 0.2 is not enough
    assert track.state == "lost"
    fresh = Tracker()
    for k in range(10):
        assert fresh.update([make_det("car", 0.45, box)], k * 0.2) == []


def test_a_car_found_only_at_low_scores_in_one_place_becomes_a_track_standing_since_first_seen():
    """A parked car the detector never scores above 0.35 (seen from a pole, from behind): a track after standing_s."""
    tracker = Tracker()  # standing_s 3, at least 80 % of the runs, IoU 0.6 with where it stands
    rng = np.random.default_rng(1)
    tracks, found_at = [], None
    for k in range(40):  # 8 s at 5 frames a second
        jitter = rng.normal(0, 2, 4)
        score = float(rng.choice([0.16, 0.21, 0.27, 0.34]))
        dets = [] if k % 7 == 3 else [make_det("car", score, np.add((500, 280, 620, 395), jitter))]  # a miss now and then
        tracks = tracker.update(dets, 1.0 + k * 0.2)
        if tracks and found_at is None:
            found_at = 1.0 + k * 0.2
    (track,) = tracks
    assert 4.0 <= found_at <= 4.6  # 3 s after it was first seen at 1.0
    assert track.id == 1 and track.state == "tracked" and track.label == "car"
    assert track.first_seen == 1.0 and track.stationary_s >= 6.5  # standing since first seen, not since promoted


def test_a_parked_car_whose_score_flickers_between_the_lowest_steps_stands_from_when_it_was_first_found():
    """Seed 1313's no_parking_stop: the quantized model scores the parked car 0.12 or 0.16 from run to run (its two
    lowest steps), about half each. A candidate starts on a box from standing_score (0.15) and is found again on
    one from standing_keep_score (0.1); counting only the upper step, it was seen in half the runs, never ripened,
    and the car stood 6.4 s before a run of higher scores started its track (the violation came late)."""
    scores = [0.16, 0.12, 0.12, 0.16, 0.16, 0.12, 0.12, 0.16, 0.12, 0.16, 0.12, 0.12, 0.16, 0.16, 0.12, 0.16, 0.12,
              0.12, 0.16, 0.12, 0.12, 0.16, 0.12, 0.16, 0.12, 0.12, 0.16, 0.12, 0.16, 0.12]
    box = (491.0, 257.0, 614.0, 370.0)

    def run(config: TrackerConfig, scores: list[float]) -> list:
        tracker, tracks = Tracker(config), []
        for k, score in enumerate(scores):  # 6 s at 5 runs a second
            tracks = tracker.update([make_det("car", score, box)], 1.0 + k * 0.2)
        return tracks

    (track,) = run(TrackerConfig(), scores)
    assert track.first_seen == 1.0 and track.stationary_s >= 5.5
    assert run(TrackerConfig(standing_keep_score=0.15), scores) == []  # the upper step alone: never a track
    assert run(TrackerConfig(), [0.12] * len(scores)) == []  # the lowest step alone starts nothing


def test_two_faint_boxes_of_one_parked_car_become_one_standing_track():
    """The detector's unsure boxes of one parked car seen from a pole: a whole one from 1.0 s and one on its left
    two thirds from 1.2 s (IoU 0.4 with it), both in every run. Each ripens into a candidate 3 s after it was first
    seen; the second is that car's second box, not a second car (seed 1111's no_parking_stop: two violations)."""
    tracker = Tracker()
    whole, left = (486.0, 285.0, 599.0, 372.0), (460.0, 288.0, 548.0, 381.0)
    for k in range(30):
        t = 1.0 + k * 0.2
        dets = [make_det("car", 0.21, whole)] + ([make_det("car", 0.16, left)] if t >= 1.2 else [])
        tracks = tracker.update(dets, t)
    assert [(tr.id, tr.first_seen) for tr in tracks] == [(1, 1.0)]
    # two cars parked nose to tail, overlapping a little in the picture (IoU 0.1), are two
    tracker = Tracker()
    for k in range(30):
        tracks = tracker.update([make_det("car", 0.21, (400.0, 285.0, 513.0, 372.0)),
                                 make_det("car", 0.2, (493.0, 285.0, 606.0, 372.0))], 1.0 + k * 0.2)
    assert len(tracks) == 2


def test_a_parked_truck_also_boxed_as_a_train_stays_a_tracked_vehicle():
    """Seed 1616's no_parking_stop: the detector's faint boxes of a parked truck were "truck" and, a little off it,
    "train" by turns. The standing track took both, its label vote tipped to "train", and a standing track that is
    no vehicle is no longer found on low boxes: lost for 14 s, the violation came as the truck drove off. Only a
    low box of a standing label keeps a standing vehicle."""
    truck, train = (502.0, 270.0, 626.0, 384.0), (483.0, 288.0, 634.0, 392.0)  # IoU 0.66
    tracker = Tracker()
    for k in range(61):  # 12 s at 5 runs a second: a truck found faintly for 4 s (a standing track), then a train
        if k < 20 or k % 3 == 0:  # ... in two runs of three
            dets = [make_det("truck", 0.16, truck)]
        else:
            dets = [make_det("train", 0.21, train)]
        tracks = tracker.update(dets, k * 0.2)
    (track,) = tracks
    assert track.label == "truck" and track.state == "tracked" and track.box == truck
    assert track.first_seen == 0.0 and track.stationary_s >= 11.5


def test_a_faint_box_over_a_queue_of_tracked_cars_is_no_standing_vehicle():
    """Seed 1212's stop_line_stop: far up the road the detector draws faint "car" boxes (0.12-0.16) over a queue of
    small cars it also finds surely. Standing there, such a box became a track, jumped between the queue's shapes,
    and met another: a suspected collision of nothing. A candidate that holds two tracked vehicles whole is that
    group, not a vehicle; one that holds one (a car that stopped in front of a parked bus) still is one."""
    queue = [(461.0, 119.0, 524.0, 169.0), (429.0, 31.0, 447.0, 49.0), (489.0, 48.0, 513.0, 68.0)]
    group = (330.0, 10.0, 530.0, 199.0)

    def run(cars) -> list:
        tracker, tracks = Tracker(), []
        for k in range(30):  # 6 s at 5 runs a second
            dets = [make_det("car", 0.79, car) for car in cars] + [make_det("car", 0.16, group)]
            tracks = tracker.update(dets, k * 0.2)
        return tracks

    assert sorted(tuple(tr.box) for tr in run(queue)) == sorted(queue)  # the cars, and no box over them
    assert any(tr.score < 0.5 for tr in run(queue[:1]))  # a bus behind one car: still a standing vehicle
    # people are no vehicles: a parked bus with people waiting in front of it is a bus
    tracker = Tracker()
    for k in range(30):
        tracks = tracker.update([make_det("person", 0.9, (400.0 + 40 * i, 120.0, 425.0 + 40 * i, 190.0)) for i in range(3)]
                                + [make_det("bus", 0.16, group)], k * 0.2)
    assert [tr.label for tr in tracks].count("bus") == 1


def test_unsure_boxes_that_move_flicker_or_are_not_vehicles_never_become_standing_tracks():
    moving, flicker, person, off = Tracker(), Tracker(), Tracker(), Tracker(TrackerConfig(standing_labels=()))
    box = np.array([500.0, 280.0, 620.0, 395.0])
    for k in range(50):  # 10 s
        t = k * 0.2
        assert moving.update([make_det("car", 0.3, box + [12 * k, 0, 12 * k, 0])], t) == []  # 10 % of its width a frame
        assert flicker.update([make_det("car", 0.3, box)] if k % 2 else [], t) == []  # in half the runs
        assert person.update([make_det("person", 0.3, box)], t) == []  # a pole boxed as a person stays nothing
        assert off.update([make_det("car", 0.3, box)], t) == []
    assert len(moving._standing) <= 2 and len(flicker._standing) <= 1  # and nothing piles up


def test_a_faint_box_much_taller_than_wide_is_no_standing_vehicle():
    """Seed 1010's delivery stop: the detector's faint "bus" (0.12-0.16) over the courier's van and the road
    running up the picture behind it, 2.5 times as tall as wide, stood 12 s and outlived the van. A parked vehicle
    from a pole is at most about 1.3 times as tall as wide."""
    tall, van = Tracker(), Tracker()
    for k in range(40):
        t = k * 0.2
        assert tall.update([make_det("bus", 0.16, (396.0, 31.0, 547.0, 419.0))], t) == []
        found = van.update([make_det("truck", 0.16, (435.0, 202.0, 600.0, 413.0))], t)  # 1.3: the van itself
    assert len(found) == 1


def test_an_unsure_box_over_a_third_of_the_picture_is_no_standing_car():
    """The detector's unsure 'car' over half a street of queueing cars (seed 303's queue) stands as still as a
    parked car; where the picture's size is known, a candidate larger than standing_max_area of it is refused."""
    huge, car = (330, 40, 1150, 410), (500, 280, 620, 395)
    told, untold = Tracker(), Tracker()
    for k in range(30):
        assert told.update([make_det("car", 0.16, huge)], k * 0.2, (1280, 720)) == []
        found = untold.update([make_det("car", 0.16, huge)], k * 0.2)
    assert len(found) == 1  # the size unknown: nothing to refuse it by
    parked = Tracker()
    for k in range(30):
        found = parked.update([make_det("car", 0.16, car)], k * 0.2, (1280, 720))
    assert len(found) == 1  # a car, 1.5 % of the picture


def test_a_parked_car_lost_behind_a_bus_is_found_again_where_it_stood_by_a_low_score_box():
    tracker = Tracker()
    car = (500, 280, 620, 395)
    for k in range(20):  # sure of it for 4 s: a track that stands
        tracker.update([make_det("car", 0.8, car)], k * 0.2)
    for k in range(20, 30):  # 2 s behind a bus: nothing of the car
        tracker.update([make_det("bus", 0.9, (300 + 40 * (k - 20), 200, 700 + 40 * (k - 20), 420))], k * 0.2)
    (car_track,) = [tr for tr in tracker.tracks() if tr.label == "car"]
    assert car_track.state == "lost"
    tracks = tracker.update([make_det("car", 0.2, car)], 30 * 0.2)  # seen again, unsure, where it stood
    (car_track,) = [tr for tr in tracks if tr.label == "car"]
    assert car_track.id == 1 and car_track.state == "tracked"


def test_a_lost_track_is_dropped_after_max_lost_s():
    tracker = Tracker(TrackerConfig(max_lost_s=2.0))
    box = (100, 100, 200, 160)
    for k in range(3):
        tracker.update([make_det("car", 0.9, box)], k * 0.2)
    (track,) = tracker.update([], 1.0)
    assert track.state == "lost" and track.last_seen == 0.4
    assert [tr.state for tr in tracker.update([], 2.4)] == ["lost"]
    assert tracker.update([], 2.6) == []
    # one that stood still when it hid is awaited max_lost_standing_s (a bus stopped in front of it)
    tracker = Tracker(TrackerConfig(max_lost_s=2.0, max_lost_standing_s=10.0))
    for k in range(11):
        tracker.update([make_det("car", 0.9, box)], k * 0.2)
    assert [tr.state for tr in tracker.update([], 12.0)] == ["lost"]
    assert tracker.update([], 12.2) == []


def test_history_is_bounded_and_speed_is_in_pixels_per_second():
    tracker = Tracker(TrackerConfig(history=8))
    for k in range(40):
        x = 100 + 50 * k * 0.2  # 50 px/s to the right
        (track,) = tracker.update([make_det("car", 0.9, (x, 100, x + 100, 160))], k * 0.2) or [None]
    assert len(track.history) == 8 and track.history[-1][0] == pytest.approx(7.8)
    assert track.velocity[0] == pytest.approx(50, rel=0.1) and abs(track.velocity[1]) < 2
    assert track.speed == pytest.approx(50, rel=0.1)
    assert track.ground_point == pytest.approx((track.box[0] + 50, 160))


def test_hold_keeps_still_tracks_seen_while_the_motion_gate_rests_the_detector():
    tracker = Tracker(TrackerConfig(max_lost_s=3.0))
    parked = (100, 100, 200, 160)
    gone = (500, 100, 600, 160)
    for k in range(5):
        tracker.update([make_det("car", 0.9, parked), make_det("car", 0.9, gone)], k * 0.2)
    tracker.update([make_det("car", 0.9, parked)], 1.0)  # the second car drove off
    tracks = tracker.hold(30.0)  # nothing moved for 29 s
    assert [(tr.id, tr.state) for tr in tracks] == [(1, "tracked")]
    assert tracks[0].last_seen == 30.0 and tracks[0].stationary_s == 30.0 and tracks[0].speed == 0.0
    (track,) = tracker.update([make_det("car", 0.9, parked)], 30.2)
    assert track.id == 1 and track.stationary_since == 0.0


def test_reset_forgets_tracks_but_never_reuses_an_id_and_time_going_back_resets():
    tracker = Tracker(TrackerConfig(min_hits=1))
    box = (100, 100, 200, 160)
    assert [tr.id for tr in tracker.update([make_det("car", 0.9, box)], 5.0)] == [1]
    tracker.reset()
    assert tracker.tracks() == [] and tracker.time is None
    assert [tr.id for tr in tracker.update([make_det("car", 0.9, box)], 6.0)] == [2]
    # the stream started over (stream time went back): a new track, not a jump of the old one
    assert [(tr.id, tr.first_seen) for tr in tracker.update([make_det("car", 0.9, box)], 0.0)] == [(3, 0.0)]


def test_one_tracker_per_camera_and_preset_and_a_moving_camera_resets_its_own():
    views = ViewTrackers(TrackerConfig(min_hits=1))
    box = (100, 100, 200, 160)
    a1, a2, b = views.get("cam-a", "p1"), views.get("cam-a", "p2"), views.get("cam-b", None)
    assert views.get("cam-a", "p1") is a1 and a1 is not a2
    for tracker in (a1, a2, b):
        tracker.update([make_det("car", 0.9, box)], 1.0)
    views.camera_moved("cam-a")
    assert a1.tracks() == [] and a2.tracks() == [] and len(b.tracks()) == 1
    assert views.views() == [("cam-a", "p1"), ("cam-a", "p2"), ("cam-b", None)]
    views.forget("cam-a")
    assert views.views() == [("cam-b", None)]


def test_broken_boxes_are_ignored_and_never_poison_a_track():
    tracker = Tracker(TrackerConfig(min_hits=1))
    box = (100, 100, 200, 160)
    tracker.update([make_det("car", 0.9, box)], 0.0)
    broken = [
        make_det("car", 0.9, (float("nan"), 100, 200, 160)),
        make_det("car", 0.9, (200, 100, 100, 160)),  # x2 < x1
        make_det("car", 0.9, (100, 100, 100, 100)),  # empty
        make_det("car", 0.9, (100, 100, float("inf"), 160)),
    ]
    (track,) = tracker.update(broken, 0.2)
    assert track.state == "lost"
    (track,) = tracker.update([make_det("car", 0.9, box)], 0.4)
    assert track.id == 1 and track.state == "tracked" and all(math.isfinite(v) for v in track.velocity)


def test_the_benchmark_prints_both_trackers_figures():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tracker.py"), "--objects", "6", "--seeds", "1", "--seconds", "4"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    assert row["objects"] == 6 and row["ours_us"] > 0 and row["naive_us"] > 0
    assert {"ours_id_switches", "naive_id_switches", "ours_mota", "naive_mota", "ours_p99_us"} <= row.keys()


def test_config_rejects_unknown_keys_and_inconsistent_thresholds_with_a_reason():
    with pytest.raises(ValidationError, match="max_lost"):
        TrackerConfig(max_lost=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"low_score \(0.6\) must not exceed high_score \(0.5\)"):
        TrackerConfig(low_score=0.6)
    with pytest.raises(ValidationError, match="new_track_score"):
        TrackerConfig(new_track_score=0.4)
    with pytest.raises(ValidationError, match=r"standing_keep_score \(0.2\) must not exceed standing_score"):
        TrackerConfig(standing_keep_score=0.2)
    assert TrackerConfig.model_validate({"min_hits": 2}).min_hits == 2


# --- a real detector's misses and doubles ---------------------------------------------------------------------


def _speeder(fps: float, speed: float, miss: float = 0.5) -> Scene:
    """A car crossing the picture at ``speed`` px/s that the detector finds in about one frame of two
    (``miss``), with no false positives to help or hinder."""
    seconds = 1400.0 / speed
    car = Thing(1, "car", (130.0, 75.0), [(0.0, -60.0, 400.0), (seconds, 1340.0, 400.0)])
    return Scene("speeder", [car], seconds=seconds, fps=fps, noise=Noise(miss=miss, flicker=0.0, false_positives=0.0))


def _followed(config: TrackerConfig, scene: Scene, seed: int) -> float:
    """How far (px) one track followed the car, 0 if it was never confirmed or its id changed."""
    frames = scene.frames(seed)
    outputs = run(Tracker(config), frames)
    if len(set(ids_of(outputs, frames, 1))) != 1:
        return 0.0
    xs = [(h[1] + h[3]) / 2 for tracks in outputs for tr in tracks for h in tr.history]
    return max(xs) - min(xs)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_fast_car_found_in_one_frame_of_two_keeps_one_id_across_the_picture(seed):
    scene = _speeder(fps=10.0, speed=540.0)
    frames = scene.frames(seed)
    assert 0.3 < sum(1 for f in frames if f.detections) / len(frames) < 0.7  # the detector really misses about half
    assert _followed(TrackerConfig(), scene, seed) >= 800  # one track across the picture: a speed can be measured


def test_motion_gating_follows_a_fast_half_seen_car_that_iou_alone_loses():
    """At 5 fps a car at 700 px/s moves 140 px (a box length) a frame and twice that over a miss: IoU alone
    (``gate_sizes = 0``, a tentative track dropped at its first miss) rarely confirms it; the gated stage
    and a tentative track's patience do in most seeds."""
    scene = _speeder(fps=5.0, speed=700.0)
    gated = [_followed(TrackerConfig(), scene, seed) for seed in range(8)]
    iou_only = [_followed(TrackerConfig(gate_sizes=0, tentative_misses=0), scene, seed) for seed in range(8)]
    assert sum(d >= 400 for d in gated) >= 5 and sum(d >= 400 for d in iou_only) <= 1


def test_a_standing_person_found_in_one_frame_of_three_is_confirmed_and_keeps_one_id():
    person = Thing(1, "person", (36.0, 90.0), [(0.0, 400.0, 300.0), (40.0, 400.0, 300.0)])
    frames = Scene("flicker", [person], seconds=40.0, noise=Noise(miss=0.65, flicker=0.0, false_positives=0.0)).frames(3)
    outputs = run(Tracker(), frames)
    ids = ids_of(outputs, frames, 1)
    assert ids and len(set(ids)) == 1
    assert ids_of(outputs, frames, 1)[0] == 1
    last = [tr for tracks in outputs for tr in tracks if tr.id == 1][-1]
    assert last.stationary_since <= 5.0 and last.stationary_s >= 30.0  # a loitering timer would have run on


def test_a_second_box_on_the_same_object_never_becomes_a_second_track():
    """Whole-frame and tile detections of one person (a full box and a slightly shifted one), and a car also
    called a truck: one track each."""
    tracker = Tracker()
    for k in range(50):
        t = k * 0.2
        dets = [make_det("person", 0.8, (400, 300, 440, 400)), make_det("car", 0.9, (600, 300, 730, 375))]
        if k % 2:
            dets.append(make_det("person", 0.7, (402, 305, 441, 398)))  # the tile's view of the same person
        if k % 3 == 0:
            dets.append(make_det("truck", 0.75, (603, 298, 733, 377)))
        tracks = tracker.update(dets, t)
    assert [tr.id for tr in tracks] == [1, 2]


def test_two_tracks_on_one_object_become_one_the_older_kept():
    """A track born on top of a live one (its detections lost for a while, then two detectors' boxes) is
    dropped once the two have overlapped ``duplicate_s``; the older keeps its id and its timers."""
    tracker = Tracker(TrackerConfig(duplicate_s=0.5))
    box = (400, 300, 440, 400)
    for k in range(10):
        tracker.update([make_det("person", 0.9, box)], k * 0.2)
    # a second live track on the same person: what a split of the detector's boxes leaves behind
    young = Tracker(TrackerConfig(min_hits=1))
    young.update([make_det("person", 0.9, box)], 0.0)
    intruder = young._tracks[0]
    intruder.id, intruder.first_seen = 99, 2.0
    tracker._tracks.append(intruder)
    tracker._mean = np.concatenate([tracker._mean, young._mean])
    tracker._cov = np.concatenate([tracker._cov, young._cov])
    seen = []
    for k in range(10, 20):
        dets = [make_det("person", 0.9, box), make_det("person", 0.85, (401, 301, 441, 401))]
        seen.append(sorted(tr.id for tr in tracker.update(dets, k * 0.2) if tr.state == "tracked"))
    assert seen[0] == [1, 99] and seen[-1] == [1]
    assert tracker.tracks()[0].first_seen == 0.0


def _receding(t: float) -> tuple[float, float, float, float]:
    """A car driving away from the camera at 20 m/s from 12 m: in perspective it shrinks and slows in the picture."""
    d = 12.0 + 20.0 * t
    size = 2400.0 / d  # its height in pixels
    cx, bottom = 640.0 - 3000.0 / d, 120.0 + 7200.0 / d
    return (cx - 0.9 * size, bottom - size, cx + 0.9 * size, bottom)


@pytest.mark.parametrize("shrink, second, frame", [(0.5, False, 6), (0.5, False, 10), (0.6, True, 6), (0.6, True, 10)])
def test_a_receding_car_keeps_its_id_across_one_odd_box_that_throws_its_filter_off(shrink, second, frame):
    # the default detector boxes the middle of a car for a frame (``shrink`` of its size), sometimes beside a second
    # box hanging below it: the filter learns that the box shrinks fast and predicts it smaller and farther on, where
    # the next good box no longer overlaps enough, and a tentative track started on the second box takes it. The last
    # box carried along the car's own course, slowed as the car shrinks in the picture, still overlaps it. (Each of
    # these cases gave the car a second id before.)
    fps = 10
    tracker = Tracker()
    ids = set()
    for k in range(int(2.0 * fps)):
        t = k / fps
        x1, y1, x2, y2 = _receding(t)
        w, h = x2 - x1, y2 - y1
        dets = [make_det("car", 0.8, (x1, y1, x2, y2))]
        if k == frame:
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            dets = [make_det("car", 0.6, (cx - w * shrink / 2, cy - h * shrink / 2, cx + w * shrink / 2, cy + h * shrink / 2))]
            if second:
                dets.append(make_det("car", 0.8, (x1 + 0.05 * w, y1 + 0.35 * h, x2 - 0.05 * w, y2 + 0.35 * h)))
        for tr in tracker.update(dets, t):
            if tr.state == "tracked":
                ids.add(tr.id)
    assert ids == {1}
