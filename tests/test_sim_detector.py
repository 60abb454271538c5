"""The default detector on the simulator's pictures, against the simulator's own ground truth.

Needs the built default model (``python -m plugins.vision_onnx.default_model``; set-up builds it,
and the fixture below checks its stamp): the tests are marked ``default_model``. Frames of one
scenario are rendered at 1280x720, one every 2 s over a 30 s loop, by day and by night, and run
through the ``vision_onnx`` pipeline on the CPU at its defaults (threshold 0.5; tiles "auto": the
whole frame and 3 x 2 overlapping tiles). Matching follows
:mod:`plugins.traffic_sim.scoring` (IoU >= 0.5, objects >= 40 px tall, vehicles and people as
two groups). ``bench/sim_recall.py`` prints the same figures for every scenario.
"""

from __future__ import annotations

import pytest

from plugins.traffic_sim.renderer import Renderer, RenderSpec
from plugins.traffic_sim.scoring import Score, score_frame
from plugins.vision_onnx import default_model as dm
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.model import OnnxModel

pytestmark = [pytest.mark.default_model, pytest.mark.timeout(180)]

SCENARIO = "no_parking_stop"  # the scene the issue measured: 2 of about 10 vehicles found
TARGET = 0.8  # the target recall, vehicles and people, by day and by night


@pytest.fixture(scope="module")
def scores() -> dict[str, Score]:
    model = OnnxModel(Config(providers=["cpu"], threads=1, score_threshold=0.5), dm.build())  # found: a sure box  # built at set-up: checks the stamp
    out = {}
    for light, night in (("day", False), ("night", True)):
        renderer = Renderer(RenderSpec(SCENARIO, 101, 1280, 720, 15, 30, night=night, label="SIM"))
        classes = {o["id"]: o["class"] for o in renderer.truth_header()["objects"]}
        total = Score()
        for i in range(0, renderer.spec.frames, 2 * renderer.spec.fps):
            pixels, objects = renderer.frame(i)
            total.add(score_frame(i, objects, classes, model.infer([pixels])[0]))
        out[light] = total
    return out


def _summary(score: Score) -> str:
    return ", ".join(f"{g}: {t.found}/{t.found + t.missed} found, precision {t.precision}" for g, t in score.groups.items())


@pytest.mark.parametrize("light", ["day", "night"])
def test_detector_sees_the_simulator_at_least_as_well_as_measured(scores, light):
    """A floor under today's figures (bench/README.md), so realism never slips back unnoticed."""
    # measured with tiles on renderer 3: vehicles and people by day 0.49 and 0.38, by night 0.07 and 0.26;
    # precision 0.56-0.94 (renderer 2 without tiles: 0.18 and 0.14, 0.04 and 0.17). Renderer 6 (the camera's
    # softness, grain and night gain, lit roads, car glasshouses with tumblehome; objects under half visible
    # ignored), tiles 3 x 2: vehicles 0.46 by day and 0.50 by night (32 and 35 of 70), people 0.58 and 0.56
    # (30 and 29 of 52); every scenario (bench/sim_recall.py): vehicles 0.57 and 0.53, people 0.55 and 0.47.
    # Renderer 8 (door seams, mirrors, the sky over more of the glass and a streak across it, a dark core under
    # each vehicle, truck doors, tall tail lamps; riders with legs to the footboard, necks and sloping
    # shoulders): vehicles 0.66 by day and by night (46 of 70), people 0.58 and 0.65 (32 and 36 of 55).
    # Renderer 9 (the same pictures; objects less than half inside the picture no longer counted, the truth's
    # in_frame): vehicles 0.71 by day and by night (46 of 65), people 0.60 and 0.68 (32 and 36 of 53).
    # Renderer 10 (headlights with a tight halo at night): by night vehicles 0.72 (47 of 65), people 0.72 (38 of 53)
    # Renderer 11 (people on foot are real walkers cut out of vtest.avi): vehicles 0.72 and 0.74 (47 and 48 of
    # 65), people 0.67 and 0.76 (37 and 42 of 55; the drawn figures 0.60 and 0.72 on the same frames).
    # Renderer 12 (a real walker's head and body on each rider's seat): vehicles 0.69 and 0.72 (45 and 47 of
    # 65), people 0.78 and 0.76 (43 and 42 of 55). Renderer 13 (one walker a person whichever way they go):
    # vehicles 0.71 and 0.74 (46 and 48 of 65), people 0.74 and 0.70 (39 and 37 of 53)
    floors = {"day": {"vehicle": 0.62, "person": 0.70}, "night": {"vehicle": 0.62, "person": 0.68}}[light]
    score = scores[light]
    for group, floor in floors.items():
        tally = score.groups[group]
        assert tally.found + tally.missed >= 20, _summary(score)  # the scene has enough to count
        assert tally.recall >= floor, f"{light}: {_summary(score)}"
        assert tally.precision is None or tally.precision >= 0.35, f"{light}: {_summary(score)}"


@pytest.mark.parametrize("light", ["day", "night"])
def test_cars_reach_the_target(scores, light):
    """Cars, the parking rule's subject, are found at issue 9's target in the scene, by day and by night.

    Renderer 10, every 2 s: 41 of 47 by day and by night (0.87); every scenario (``bench/sim_recall.py
    --by-class``): 0.83 by day, 0.82 by night. Trucks, buses and motorcycles are what keeps all vehicles under it.
    """
    classes = {o["id"]: o["class"] for o in Renderer(RenderSpec(SCENARIO, 101, 1280, 720, 15, 30)).truth_header()["objects"]}
    score = scores[light]
    found = sum(1 for _, oid, _ in score.hits if classes[oid] == "car")
    counted = found + sum(1 for _, oid, _ in score.misses if classes[oid] == "car")
    assert counted >= 30, _summary(score)
    assert found / counted >= TARGET, f"{light}: {found} of {counted} cars found"


@pytest.mark.xfail(strict=True, reason="target not reached yet (renderer 13, real walkers and riders' bodies; every scenario over "
                   "seeds 101, 202 and 303: vehicles 0.61 by day and 0.62 by night, people 0.66 and 0.66): "
                   "see bench/README.md, 'The simulator seen by the default detector'")
@pytest.mark.parametrize("light", ["day", "night"])
def test_detector_recall_reaches_the_target(scores, light):
    # The simulator's people are real walkers (cut out of vtest.avi): what keeps them under the target is the
    # model at this camera's sizes (on foot, 40-60 px: 0.59 by day, 0.57 by night).
    score = scores[light]
    for group in ("vehicle", "person"):
        assert score.groups[group].recall >= TARGET, f"{light}: {_summary(score)}"
