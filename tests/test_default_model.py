"""The default detector model, as set-up builds it, against the reference runtime on real footage.

Our converted ONNX model runs through the plugin's own pipeline (resize, onnxruntime,
box decoding, NMS in numpy) on frames of Debian's ``vtest.avi`` (a street with people
and parked cars); Google's LiteRT runs the original tflite file with its built-in
post-processing on the same frames. The two must find the same objects.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.testing.detector_kit import check_detector
from plugins.vision_onnx import default_model as dm
from plugins.vision_onnx.config import Config
from plugins.vision_onnx.detector import OnnxDetector
from plugins.vision_onnx.model import OnnxModel

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def built():
    video = dm.vtest_path()
    if video is None:
        pytest.fail(f"{dm.VTEST} missing: scripts/setup.sh installs opencv-doc")
    pytest.importorskip("ai_edge_litert", reason="the reference runtime comes with the test extra")
    model_path = dm.build()  # set-up built it already: this only checks the stamp
    tflite_path, labels = dm.fetch_tflite(model_path.parent / "cache")
    return model_path, tflite_path, labels, video


def test_converted_model_agrees_with_litert_on_real_frames(built):
    model_path, tflite_path, labels, video = built
    model = OnnxModel(Config(providers=["cpu"], score_threshold=0.3), model_path)
    frames = dm.read_frames(video, every=53, limit=12)  # spread over the clip's 795 frames
    assert len(frames) == 12
    ious, seen = [], {}
    for frame in frames:
        ours = [(d.label, d.score, d.box) for d in model.infer([frame])[0]]
        ref = dm.litert_detections(tflite_path, frame, labels)
        strong_ours = sorted(lab for lab, s, _ in ours if s >= 0.55)
        strong_ref = sorted(lab for lab, s, _ in ref if s >= 0.55)
        # the same objects of the same classes, away from the threshold's edge
        assert set(strong_ours) <= {lab for lab, s, _ in ref if s >= 0.45}
        assert set(strong_ref) <= {lab for lab, s, _ in ours if s >= 0.45}
        pair_ious, unmatched = dm.agreement(ours, ref, threshold=0.5, margin=0.1)
        assert unmatched == [], unmatched  # each detection has a partner: same label, IoU >= 0.5, score within 0.1
        ious += pair_ious
        for lab in strong_ref:
            seen[lab] = seen.get(lab, 0) + 1
    # quantised arithmetic differs a little between runtimes: nearly every box within IoU 0.9
    assert sum(v > 0.9 for v in ious) / len(ious) >= 0.9, sorted(ious)[:10]
    assert sorted(ious)[len(ious) // 2] > 0.97  # the median pair is the same box
    assert seen.get("person", 0) >= 30 and seen.get("car", 0) >= 5, seen  # vtest.avi: people walking, parked cars


def test_boxes_are_in_frame_pixels_on_the_full_size_frame(built):
    model_path, _, _, video = built
    frame = dm.read_frames(video, every=1, limit=1)[0]
    assert frame.shape == (576, 768, 3)
    dets = OnnxModel(Config(providers=["cpu"]), model_path).infer([frame])[0]
    assert all(0 <= d.x1 < d.x2 <= 768 and 0 <= d.y1 < d.y2 <= 576 for d in dets)  # inside the picture, also unsure ones
    assert min(d.score for d in dets) >= 0.1  # down to the tracker's low score
    people = [d for d in dets if d.label == "person" and d.score >= 0.5]
    assert len(people) >= 3
    for d in people:  # standing people, surely found: taller than wide
        assert d.y2 - d.y1 > d.x2 - d.x1


async def test_default_detector_passes_the_detector_kit(built):
    model_path, _, _, video = built
    det = OnnxDetector(Config(providers=["cpu"]), model_path)
    try:
        await check_detector(det, dm.read_frames(video, every=200, limit=3))
        with pytest.raises(ValueError, match="H x W x 3 uint8"):
            await det.detect([np.zeros((10, 10), np.uint8)])  # a bad frame fails its own caller
    finally:
        det.close()


def test_setup_step_is_idempotent_and_records_what_it_verified(built):
    model_path, *_ = built
    stamp_path = model_path.with_name(model_path.name + ".json")
    before = model_path.stat().st_mtime_ns
    assert dm.main([]) == 0
    assert model_path.stat().st_mtime_ns == before  # the stamp matched: nothing rebuilt
    stamp = json.loads(stamp_path.read_text())
    assert stamp["tflite_sha256"] == dm.TFLITE_SHA256 and stamp["reference_frames"] >= 1
    assert stamp["share_iou_over_0_9"] >= 0.9 and stamp["detections_per_class"]["person"] > 0
    # the float copy for a GPU, checked against the quantized model on the same frames
    gpu_copy = model_path.with_name(model_path.stem + ".gpu.onnx")
    assert stamp["gpu_copy"] == gpu_copy.name and stamp["gpu_copy_sha256"] == dm._sha256(gpu_copy)
    assert stamp["gpu_copy_pairs"] >= 20 and stamp["gpu_copy_unmatched"] <= 0.1 * stamp["gpu_copy_pairs"]


def test_a_missing_gpu_copy_is_built_again(built, tmp_path):
    model_path, *_ = built
    (tmp_path / "models" / "cache").mkdir(parents=True)
    for f in (model_path.parent / "cache").iterdir():
        (tmp_path / "models" / "cache" / f.name).write_bytes(f.read_bytes())
    out = dm.build(tmp_path)
    copy = out.with_name(out.stem + ".gpu.onnx")
    first = copy.read_bytes()
    copy.unlink()
    dm.build(tmp_path)  # the stamp no longer matches what is there
    assert copy.read_bytes() == first and out.read_bytes() == model_path.read_bytes()


def test_build_into_a_fresh_folder_reuses_the_cached_package_and_refuses_a_tampered_one(built, tmp_path):
    model_path, tflite_path, *_ = built
    cache = tmp_path / "models" / "cache"
    cache.mkdir(parents=True)
    tgz = model_path.parent / "cache" / dm.TARBALL
    if tgz.is_file():
        (cache / dm.TARBALL).write_bytes(tgz.read_bytes())
    tampered = bytearray(tflite_path.read_bytes())
    tampered[-100] ^= 0xFF
    (cache / tflite_path.name).write_bytes(bytes(tampered))
    (cache / "coco_labels.txt").write_text("0  person\n")
    if not tgz.is_file():
        pytest.skip("no cached npm tarball to rebuild from")
    out = dm.build(tmp_path)  # the tampered tflite is replaced from the tarball, then checked
    assert dm._sha256(cache / tflite_path.name) == dm.TFLITE_SHA256
    assert out.read_bytes() == model_path.read_bytes()  # the conversion is deterministic
