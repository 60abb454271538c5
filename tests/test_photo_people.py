"""The simulator's people are real walkers cut out of Debian's vtest.avi (``plugins.traffic_sim.photo_people``).

The cuts come from the real footage (``opencv-doc``, installed by set-up); the tests skip without it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.traffic_sim import cache, photo_people
from plugins.traffic_sim.renderer import Renderer, RenderSpec

pytestmark = pytest.mark.skipif(photo_people.source() is None, reason="no vtest.avi (Debian's opencv-doc)")


@pytest.fixture(scope="module")
def walkers() -> photo_people.Bank:
    bank = photo_people.bank()
    assert bank is not None
    return bank


def test_walkers_are_single_people_followed_over_their_steps(walkers):
    assert len(walkers.walkers) >= 30, len(walkers.walkers)
    for w in walkers.walkers:
        assert len(w.rgb) == len(w.alpha) >= photo_people.MIN_STEPS
        for rgb, alpha in zip(w.rgb, w.alpha):
            h, wd = alpha.shape
            assert rgb.shape == (h, wd, 3)
            assert 1.6 <= h / wd <= 5.0, (h, wd)  # one upright person, not a pair side by side
            assert (alpha > 127).mean() >= 0.35  # the cut is the person, not its box
            assert min(alpha[0].max(), alpha[-1].max(), alpha[:, 0].max(), alpha[:, -1].max()) > 0  # cropped to the person
        heights = [a.shape[0] for a in w.alpha]  # the same person from step to step (nearer or farther)
        assert all(max(a, b) / min(a, b) < 1.25 for a, b in zip(heights, heights[1:])), heights
    # people walk every way across the footage: across (both ways), towards and away from its camera
    assert {np.sign(w.dx) for w in walkers.walkers if abs(w.dx) > abs(w.dy)} == {-1.0, 1.0}
    assert {np.sign(w.dy) for w in walkers.walkers if abs(w.dy) > abs(w.dx)} == {-1.0, 1.0}


def test_the_bank_is_kept_and_read_back(walkers, tmp_path):
    video = photo_people.source()
    path = photo_people.bank_path(video)
    assert path.is_file()
    again = photo_people._load(path)
    assert len(again) == len(walkers.walkers)
    assert all(np.array_equal(a.rgb[0], b.rgb[0]) and a.dx == b.dx for a, b in zip(again, walkers.walkers))


def test_a_person_keeps_one_walker_whichever_way_they_go(walkers):
    """Clothes stay with the person (crime watch continues a loiterer's stay by them); mirrored across."""
    picks = [walkers.pick("p1", du, dv) for du, dv in ((10.0, 1.0), (-10.0, 1.0), (0.5, 8.0), (0.5, -8.0))]
    assert len({id(w) for w, _ in picks}) == 1
    walker = picks[0][0]
    if abs(walker.dx) >= 0.5:
        assert picks[0][1] != picks[1][1] and (walker.dx > 0) != picks[0][1]  # shown walking to the right, then left
    assert not picks[2][1] and not picks[3][1]
    assert len({id(walkers.pick(f"p{k}", 1.0, 0.0)[0]) for k in range(40)}) >= 15  # people differ


def test_paste_lands_in_its_box_lit_and_hazed(walkers):
    w = walkers.walkers[0]
    grey = (128, 128, 128)
    day = Image.new("RGB", (200, 200), grey)
    box = photo_people.paste_person(day, w, 0, 100.0, 150.0, 60.0, False, 1.0, (200, 200, 200), 0.0)
    x0, y0, x1, y1 = (int(v) for v in box)
    assert (y1 - y0) == 60 and y1 == 150 and abs((x0 + x1) / 2 - 100) <= 1
    changed = np.nonzero(np.abs(np.asarray(day, np.int16) - 128).sum(axis=2) > 0)
    assert changed[0].min() >= y0 and changed[0].max() < y1 and changed[1].min() >= x0 and changed[1].max() < x1
    night = Image.new("RGB", (200, 200), grey)
    photo_people.paste_person(night, w, 0, 100.0, 150.0, 60.0, False, 0.3, (200, 200, 200), 0.0)
    inside = (slice(y0, y1), slice(x0, x1))
    mask = np.abs(np.asarray(day, np.int16)[inside] - 128).sum(axis=2) > 30
    assert np.asarray(night, np.float32)[inside][mask].mean() < 0.6 * np.asarray(day, np.float32)[inside][mask].mean()
    hazy = Image.new("RGB", (200, 200), (200, 200, 200))  # all haze, on a backdrop of the haze's colour
    photo_people.paste_person(hazy, w, 0, 100.0, 150.0, 60.0, False, 1.0, (200, 200, 200), 1.0)
    assert np.abs(np.asarray(hazy, np.int16) - 200).max() <= 2


def test_steps_follow_the_pace_and_a_standing_person_keeps_still():
    assert photo_people.step_of(0.0, 1.4, 0.0, 20) == 0
    assert photo_people.step_of(1.0, 1.4, 0.0, 20) == 10  # the footage's 10 frames a second at a walk
    assert photo_people.step_of(1.0, 2.8, 0.0, 20) == 0  # running: twice the steps (wrapped)
    assert len({photo_people.step_of(t / 10, 0.0, 1.23, 20) for t in range(30)}) == 1


def test_the_renderer_pastes_walkers_where_its_truth_says(walkers):
    renderer = Renderer(RenderSpec("crowd", 101, 1280, 720))
    classes = {o["id"]: o["class"] for o in renderer.truth_header()["objects"]}
    backdrop = renderer.camera.expose(np.asarray(renderer.backdrop.image), 150).astype(np.int16)
    pixels, objects = renderer.frame(150)
    people = [o for o in objects if classes[o["id"]] == "person" and "." not in o["id"] and o["visible"] >= 0.9]
    assert len(people) >= 3
    for o in people:
        x0, y0, x1, y1 = o["bbox"]
        differs = np.abs(pixels[y0:y1, x0:x1].astype(np.int16) - backdrop[y0:y1, x0:x1]).sum(axis=2) > 40
        assert differs.mean() > 0.25, o  # a person fills its box
        ys, xs = np.nonzero(differs)
        assert ys.max() - ys.min() >= 0.8 * (y1 - y0) and xs.max() - xs.min() >= 0.6 * (x1 - x0), o


def test_without_the_footage_people_are_drawn_and_cached_apart(monkeypatch, tmp_path):
    spec = RenderSpec("crowd", 101, 640, 360)
    with_walkers = cache.cache_key(spec)
    monkeypatch.setattr(photo_people, "VTEST", tmp_path / "missing.avi")
    monkeypatch.setattr(photo_people, "_banks", {})
    assert photo_people.source() is None and photo_people.bank() is None
    assert photo_people.tag() == "drawn"
    assert cache.cache_key(spec) != with_walkers  # pictures of drawn people are not taken for the others
    pixels, objects = Renderer(spec).frame(150)
    assert any(o["id"].startswith("p") for o in objects)  # the people are there, drawn


def test_a_rider_has_a_walkers_head_and_body_on_the_seat(walkers):
    """``seat`` pastes the top of a walker (head to hips) standing on the seat line, as tall as asked."""
    w = walkers.walkers[0]
    img = Image.new("RGB", (200, 200), (128, 128, 128))
    photo_people.seat(img, w, 0, 100.0, 120.0, 50.0, False, 1.0, (200, 200, 200), 0.0)
    changed = np.nonzero(np.abs(np.asarray(img, np.int16) - 128).sum(axis=2) > 30)
    assert changed[0].max() < 120 and changed[0].min() >= 70  # from the seat up, 50 px
    assert changed[0].max() - changed[0].min() >= 40
    rgb, alpha = w.rgb[0], w.alpha[0]
    legs = rgb[rgb.shape[0] * 2 // 3 :][alpha[alpha.shape[0] * 2 // 3 :] > 127]
    assert np.abs(np.asarray(w.trousers) - np.median(legs, axis=0)).max() <= 1


def test_riders_are_drawn_with_a_real_body(walkers):
    """The renderer's riders carry a walker's pixels: with the walkers off, the same frame's riders differ."""
    import os

    spec = RenderSpec("free_flow", 101, 1280, 720)
    pixels, objects = Renderer(spec).frame(30)
    os.environ[photo_people.ENV] = "drawn"
    try:
        drawn, same = Renderer(spec).frame(30)
    finally:
        del os.environ[photo_people.ENV]
    riders = [o for o in objects if o["id"].endswith(".rider") and o["bbox"][3] - o["bbox"][1] >= 40]
    assert riders
    for o in riders:
        x0, y0, x1, y1 = o["bbox"]
        top = slice(y0, (y0 + y1) // 2), slice(x0, x1)  # the body, above the legs
        assert np.abs(pixels[top].astype(np.int16) - drawn[top]).sum(axis=2).mean() > 20, o


def test_a_gzipped_footage_decodes_as_the_plain_one(tmp_path):
    """Debian may ship vtest.avi gzipped: the cutter decodes it through an unpacked copy, the same frames."""
    import gzip
    import itertools
    import shutil

    packed = tmp_path / "vtest.avi.gz"
    with open(photo_people.VTEST, "rb") as src, gzip.open(packed, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    plain = list(itertools.islice(photo_people._frames(photo_people.VTEST), 3))
    unpacked = list(itertools.islice(photo_people._frames(packed), 3))
    assert len(unpacked) == 3 and all(np.array_equal(a, b) for a, b in zip(plain, unpacked))
