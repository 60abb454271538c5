"""Close-ups of the zones where people are judged: where the squares go, how their boxes join the frame's,
and what they add with the real default detector on the simulator's crowd (truth: who stands in the zone)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from core.analytics import closeups
from core.analytics.closeups import CloseUps, Square, merge, plan
from core.analytics.detector import Detection
from core.analytics.zones import Zone
from plugins.traffic_sim.renderer import Renderer, RenderSpec
from plugins.vision_onnx import default_model as dm
from plugins.vision_onnx.config import Config as DetectorConfig
from plugins.vision_onnx.detector import OnnxDetector

W, H = 1280, 720
ON = CloseUps(frozenset({"watched_area", "restricted_area"}), 1.75, 4, frozenset({"person"}))


def zone(kind: str, points) -> Zone:
    return Zone.model_validate({"id": kind, "name": kind, "kind": kind, "points": points})


# the simulator's crowd scene: the far pavement where people gather (truth zone, fractions of 1280x720)
WATCHED = zone("watched_area", [[0.7506, 0.3167], [0.8777, 0.3094], [0.7344, 0.2293], [0.6380, 0.2333]])


def test_squares_cover_the_zone_from_above_its_top_to_its_bottom_at_the_zoom():
    squares = plan([WATCHED], W, H, (300, 300), ON)
    side = int(300 / 1.75)
    assert squares and all(s.side == side for s in squares)
    x1, x2 = min(p[0] for p in WATCHED.points) * W, max(p[0] for p in WATCHED.points) * W
    top, bottom = min(p[1] for p in WATCHED.points) * H, max(p[1] for p in WATCHED.points) * H
    assert min(s.x for s in squares) <= x1 and max(s.x + s.side for s in squares) >= x2 - 1  # whole pixels
    assert min(s.y for s in squares) <= top - 0.1 * H + 1 and max(s.y + s.side for s in squares) >= bottom
    assert all(0 <= s.x and s.x + s.side <= W and 0 <= s.y and s.y + s.side <= H for s in squares)


def test_only_the_zone_kinds_asked_for_and_never_more_squares_than_allowed():
    lane = zone("no_parking", [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9], [0.1, 0.9]])
    assert plan([lane], W, H, (300, 300), ON) == []
    assert plan([WATCHED], W, H, (300, 300), CloseUps()) == []  # no kinds: off
    wide = zone("watched_area", [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]])
    squares = plan([wide], W, H, (300, 300), ON)
    assert 1 <= len(squares) <= ON.views and squares[0].side > int(300 / 1.75)  # less zoom rather than more views


def test_a_box_cut_by_a_squares_inner_edge_is_left_to_the_whole_frame_and_one_object_is_one_box():
    sq = Square(600, 100, 171)
    whole = [Detection("person", 0.6, 650.0, 150.0, 665.0, 195.0), Detection("car", 0.9, 10.0, 10.0, 90.0, 60.0)]
    found = [[
        Detection("person", 0.8, 49.0, 49.0, 66.0, 96.0),  # the same person, better seen: replaces the 0.6 box
        Detection("person", 0.7, 100.0, 40.0, 116.0, 85.0),  # a second person the whole frame missed
        Detection("person", 0.9, 0.0, 60.0, 12.0, 100.0),  # cut by the square's left edge: a part of someone
        Detection("car", 0.9, 120.0, 100.0, 170.0, 140.0),  # not a label asked for
    ]]
    got = merge(whole, [sq], found, W, H, frozenset({"person"}))
    people = sorted((d.score, d.box) for d in got if d.label == "person")
    assert people == [(0.7, (700.0, 140.0, 716.0, 185.0)), (0.8, (649.0, 149.0, 666.0, 196.0))]
    assert [d for d in got if d.label == "car"] == [whole[1]]


@pytest.fixture(scope="module")
def detector():
    det = OnnxDetector(DetectorConfig(providers=["cpu"]), dm.build())
    yield det
    det.close()


def in_zone(box, zone_: Zone) -> bool:
    return zone_.contains_box(box, W, H)


@pytest.mark.timeout(240)
def test_close_ups_find_more_of_the_crowd_than_the_whole_frame(detector):
    """Of the 12 people standing in the watched area (each at least 0.7 in view since the crowd's stand was
    made countable), the close-ups find more than the whole frame, and put no box where nobody is."""
    renderer = Renderer(RenderSpec("crowd", 101, W, H, 15, 30, night=False, label="SIM"))
    people_ids = {o["id"] for o in renderer.truth_header()["objects"] if o["class"] == "person"}

    def iou(a, b) -> float:
        w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
        if w <= 0 or h <= 0:
            return 0.0
        return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)

    def on_people(box, there) -> float:
        """The share of ``box`` that lies on someone's box (two people side by side boxed as one lie on both)."""
        x0, y0 = int(box[0]), int(box[1])
        mask = np.zeros((max(1, int(box[3]) + 1 - y0), max(1, int(box[2]) + 1 - x0)), bool)
        for o in there:
            a, b, c, d = o["bbox"]
            mask[max(0, b - y0) : max(0, d - y0), max(0, a - x0) : max(0, c - x0)] = True
        return float(mask.mean())

    def judge(found, there) -> tuple[int, int]:
        """(people found: a box at IoU >= 0.5, ghosts: boxes on nobody, under a tenth of them on anyone's box).

        A box between two real people standing side by side, or shifted half off one, is a poor box on
        someone, not a ghost (the real walkers of renderer 11 in a crowd get a few of those)."""
        boxes = [d.box for d in found if d.label == "person" and d.score >= 0.5 and in_zone(d.box, WATCHED)]
        hit = sum(1 for o in there if in_zone(o["bbox"], WATCHED) and any(iou(b, o["bbox"]) >= 0.5 for b in boxes))
        ghosts = sum(1 for b in boxes if on_people(b, there) < 0.1)
        return hit, ghosts

    fresh = OnnxDetector(DetectorConfig(providers=["cpu"]), dm.build())  # not loaded: its input is not known yet
    try:
        image, objects = renderer.frame(200)
        first = asyncio.run(closeups.detect(fresh, image, [WATCHED], ON))
    finally:
        fresh.close()
    whole, close, ghosts, standing = [], [], 0, []
    for i in (200, 260, 320):
        image, objects = renderer.frame(i)
        there = [o for o in objects if o["id"] in people_ids]
        standing.append(sum(1 for o in there if o["id"].startswith("crowd") and in_zone(o["bbox"], WATCHED)))
        whole.append(judge(asyncio.run(closeups.detect(detector, image, [WATCHED], CloseUps())), there)[0])
        hit, ghost = judge(asyncio.run(closeups.detect(detector, image, [WATCHED], ON)), there)
        close.append(hit)
        ghosts += ghost
        if i == 200:  # the first call, which loads the model, has its close-ups too
            assert judge(first, there)[0] == hit
    assert standing == [12, 12, 12]
    assert ghosts == 0, (whole, close)
    assert sum(close) >= sum(whole) + 9, (whole, close)  # measured 6, 6, 7 -> 9, 10, 11 of 12 (drawn figures: 6, 6, 5 -> 11, 10, 12)
