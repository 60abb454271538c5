"""The ground-truth detector: recognises the simulator's real decoded frames and answers with their truth.

Never part of a shipped deployment: the last test reads every deployment file
the project ships.
"""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import av
import numpy as np
import pytest

from core.analytics.detector import Detector
from plugins.traffic_sim import cache
from plugins.traffic_sim.renderer import RenderSpec
from plugins.truth_detector.detector import TruthDetector
from plugins.truth_detector.replay import TruthReplay

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return cache.render(RenderSpec("no_parking_stop", 7, width=320, height=180, fps=5, loop_seconds=4), tmp_path_factory.mktemp("sim"))


def decoded(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_each_decoded_frame_gets_its_own_truth(rendered):
    detector = TruthDetector([rendered.truth])
    detector.start()
    assert isinstance(detector, Detector) and detector.info().provider == "truth"
    replay = TruthReplay.load(rendered.truth)
    frames = decoded(rendered.video)
    answers = asyncio.run(detector.detect(frames))
    assert len(answers) == len(frames) == replay.doc["frames_total"]
    hits = sum(answers[i] == list(replay.frames[i]) for i in range(len(frames)))
    assert hits >= 0.95 * len(frames)  # a frame with nothing moving may match its twin; its truth is the same
    assert any(d.label == "car" for a in answers for d in a)


def test_bgr_and_smaller_pictures_are_recognised_and_boxes_scaled(rendered):
    detector = TruthDetector([rendered.truth])
    detector.start()
    replay = TruthReplay.load(rendered.truth)
    frame = decoded(rendered.video)[10]
    want = replay.frames[10]
    bgr = frame[:, :, ::-1]
    assert detector.detect_sync([bgr])[0] == list(want)
    half = frame.reshape(90, 2, 160, 2, 3).mean(axis=(1, 3)).astype(np.uint8)
    got = detector.detect_sync([half])[0]
    assert [d.label for d in got] == [d.label for d in want]
    assert [round(d.x2, 1) for d in got] == [round(d.x2 / 2, 1) for d in want]


def test_a_picture_from_elsewhere_gets_nothing(rendered):
    detector = TruthDetector([rendered.truth])
    detector.start()
    noise = np.random.default_rng(1).integers(0, 255, (180, 320, 3), dtype=np.uint8)
    assert detector.detect_sync([noise]) == [[]]


def test_a_file_that_is_not_truth_is_refused(tmp_path):
    bad = tmp_path / "x.truth.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not a simulator truth file"):
        TruthReplay.load(bad)


def test_no_shipped_deployment_enables_the_truth_detector():
    files = [ROOT / "plugins.toml", *sorted((ROOT / "deploy").glob("*.toml"))]
    assert len(files) >= 2
    for path in files:
        plugins = tomllib.loads(path.read_text()).get("plugins", {})
        table = plugins.get("truth_detector")
        assert table is None or table.get("enabled") is False, f"{path.name} enables truth_detector"
