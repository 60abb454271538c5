"""The ``vision_onnx`` detector: each output layout, the batcher, bad model files, the plugin in the app.

Every layout is read from a real ONNX model run by onnxruntime: small graphs
built here whose output is a known raw tensor (expanded to the batch), so the
decoding, letterbox and NMS are checked against boxes we chose. The default
model's agreement with the reference runtime is in ``test_default_model.py``.
"""

from __future__ import annotations

import asyncio
import os
import threading

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")  # a dependency (set-up builds the default model with it)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from core.analytics.detector import Detection, Detector, FramesDropped  # noqa: E402
from core.app import create_app  # noqa: E402
from core.config import ConfigErrors, load_file  # noqa: E402
from core.plugin_host import load_plugins  # noqa: E402
from plugins.vision_onnx import default_model as dm  # noqa: E402
from plugins.vision_onnx import tiles  # noqa: E402
from plugins.vision_onnx.batcher import Batcher  # noqa: E402
from plugins.vision_onnx.config import Config  # noqa: E402
from plugins.vision_onnx.detector import OnnxDetector  # noqa: E402
from plugins.vision_onnx.layouts import nms  # noqa: E402
from plugins.vision_onnx.model import ModelError, OnnxModel  # noqa: E402
from support.appclient import bearer_headers, running  # noqa: E402

SIZE = 320  # model input, square


def constant_model(path, outputs: dict[str, np.ndarray], size: int = SIZE, meta: dict[str, str] | None = None):
    """An ONNX model whose outputs are the given tensors (leading axis 1), repeated per image."""
    nodes = [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["n"]),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "zero"), numpy_helper.from_array(np.array([1], np.int64), "one")]
    outs = []
    for name, arr in outputs.items():
        arr = arr.astype(np.float32)
        inits.append(numpy_helper.from_array(arr, f"{name}_c"))
        inits.append(numpy_helper.from_array(np.array(arr.shape[1:], np.int64), f"{name}_tail"))
        nodes.append(helper.make_node("Concat", ["n", f"{name}_tail"], [f"{name}_shape"], axis=0))
        nodes.append(helper.make_node("Expand", [f"{name}_c", f"{name}_shape"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *arr.shape[1:]]))
    graph = helper.make_graph(
        nodes, "constant", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])], outs, inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    path.write_bytes(model.SerializeToString())
    return path


# A 640x480 frame letterboxed into 320x320: scale 0.5, 40 px of padding above and below.
FRAME = np.zeros((480, 640, 3), np.uint8)
PERSON = (100.0, 80.0, 300.0, 400.0)  # x1, y1, x2, y2 in the frame
CAR = (350.0, 200.0, 600.0, 350.0)


def to_input(box):  # frame pixels -> letterboxed input pixels, as cx, cy, w, h
    x1, y1, x2, y2 = (v * 0.5 for v in box)
    y1, y2 = y1 + 40, y2 + 40
    return ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)


def detect(path, **config) -> list[Detection]:
    cfg = Config(model=str(path), providers=["cpu"], **config)
    return OnnxModel(cfg, path).infer([FRAME, FRAME])[1]


def assert_found(dets, label, box, score):
    match = [d for d in dets if d.label == label]
    assert len(match) == 1, dets
    assert match[0].box == pytest.approx(box, abs=0.6) and match[0].score == pytest.approx(score, abs=1e-4)


def test_yolov5_layout_boxes_come_back_in_frame_pixels(tmp_path):
    rows = np.array([
        [*to_input(PERSON), 0.9, 0.9, 0.1],  # cx, cy, w, h, objectness, person, car
        [*to_input(CAR), 0.8, 0.2, 0.75],
        [*to_input(CAR), 0.3, 0.1, 0.9],  # objectness x class below the threshold
    ])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    dets = detect(path, layout="yolov5", classes=["person", "car"])
    assert_found(dets, "person", PERSON, 0.81)
    assert_found(dets, "car", CAR, 0.6)


def test_yolov8_layout_is_transposed_without_objectness(tmp_path):
    rows = np.array([[*to_input(PERSON), 0.7, 0.1], [*to_input(CAR), 0.0, 0.95]])
    path = constant_model(
        tmp_path / "v8.onnx", {"output0": rows.T[None]}, meta={"names": "{0: 'person', 1: 'car'}"}
    )
    dets = detect(path, layout="yolov8")  # class names from the model's metadata, as Ultralytics writes them
    assert_found(dets, "person", PERSON, 0.7)
    assert_found(dets, "car", CAR, 0.95)


def test_yolox_layout_decodes_grid_offsets_and_pads_right_and_bottom(tmp_path):
    n = sum((SIZE // s) ** 2 for s in (8, 16, 32))
    raw = np.zeros((n, 7), np.float32)
    raw[:, 4] = 0.0  # no object anywhere but one anchor
    # YOLOX letterboxes to the top-left: frame pixels x 0.5, no offset
    x1, y1, x2, y2 = (v * 0.5 for v in PERSON)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    s = 32
    first32 = (SIZE // 8) ** 2 + (SIZE // 16) ** 2
    gx, gy = int(cx // s), int(cy // s)
    raw[first32 + gy * (SIZE // s) + gx] = [cx / s - gx, cy / s - gy, np.log(w / s), np.log(h / s), 0.9, 0.0, 0.8]
    path = constant_model(tmp_path / "yolox.onnx", {"output": raw[None]})
    dets = detect(path, layout="yolox", classes={0: "car", 1: "person"})
    assert_found(dets, "person", PERSON, 0.72)


def test_ssd_layout_scores_per_class_with_background_and_nms(tmp_path):
    def norm(box):  # a stretched 320x320 input: normalised frame coordinates
        return [box[0] / 640, box[1] / 480, box[2] / 640, box[3] / 480]

    shifted = (PERSON[0] + 4, PERSON[1] + 4, PERSON[2] + 4, PERSON[3] + 4)
    boxes = np.array([norm(PERSON), norm(shifted), norm(CAR)])
    scores = np.array([[0.1, 0.8, 0.0], [0.1, 0.7, 0.0], [0.0, 0.1, 0.66]])  # column 0: background
    path = constant_model(
        tmp_path / "ssd.onnx", {"boxes": boxes[None], "scores": scores[None]},
        meta={"layout": "ssd", "resize": "stretch", "background_class": "true", "names": "{0: 'person', 1: 'car'}"},
    )
    dets = detect(path)  # everything from the metadata, as the default model carries it
    assert_found(dets, "person", PERSON, 0.8)  # its overlapping twin suppressed
    assert_found(dets, "car", CAR, 0.66)


def test_ssd_layout_already_suppressed_tf_order(tmp_path):
    def yxyx(box):
        return [box[1] / 480, box[0] / 640, box[3] / 480, box[2] / 640]

    boxes = np.array([yxyx(PERSON), yxyx(CAR), [0, 0, 0, 0]])
    outs = {
        "detection_boxes": boxes[None], "detection_classes": np.array([[0, 2, 0]]),
        "detection_scores": np.array([[0.9, 0.7, 0.0]]), "num_detections": np.array([2.0]),
    }
    path = constant_model(tmp_path / "tf.onnx", outs)
    dets = detect(path, layout="ssd", resize="stretch", box_order="yxyx", classes={0: "person", 2: "car"})
    assert len(dets) == 2
    assert_found(dets, "person", PERSON, 0.9)
    assert_found(dets, "car", CAR, 0.7)


def test_nms_per_class_and_across_classes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], np.float32)
    scores, classes = np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1])
    assert nms(boxes, scores, classes, 0.5, 10)[2].tolist() == [0, 1]
    assert nms(boxes, scores, classes, 0.5, 10, agnostic=True)[2].tolist() == [0]
    assert len(nms(boxes, scores, classes, 0.5, 1)[1]) == 1


def test_labels_filter_keeps_only_the_named_ones(tmp_path):
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1], [*to_input(CAR), 0.8, 0.2, 0.75]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    dets = detect(path, layout="yolov5", classes=["person", "car"], labels=["car"])
    assert [d.label for d in dets] == ["car"]


# --- tiles ---------------------------------------------------------------------


def test_auto_tiles_only_frames_at_least_twice_the_model_input():
    assert tiles.grid("auto", (1280, 720), (300, 300)) == (3, 2)  # the simulator: 4.3x across, 2.4x down
    assert tiles.grid("auto", (1920, 1080), (300, 300)) == (4, 2)
    assert tiles.grid("auto", (3840, 2160), (300, 300)) == (4, 4)  # at most MAX_TILES
    assert tiles.grid("auto", (768, 576), (300, 300)) == (1, 1)  # vtest.avi: as before
    assert tiles.grid("auto", (640, 480), (SIZE, SIZE)) == (1, 1)
    assert tiles.grid("off", (3840, 2160), (300, 300)) == (1, 1)
    assert tiles.grid((3, 2), (640, 480), (SIZE, SIZE)) == (3, 2)


def test_a_tiles_size_counts_the_overlap():
    """With a third of overlap, 3 x 2 tiles of 720p are 548x432 (squashed a fifth across into a square input), 4 x 2 426x432."""
    assert tiles.tile_size((1280, 720), 3, 2, 0.33) == (548, 432)
    assert tiles.tile_size((1280, 720), 4, 2, 0.33) == (426, 432)
    assert tiles.tile_size((1280, 720), 1, 1, 0.33) == (1280, 720)


def test_tiles_overlap_and_cover_the_frame():
    views = tiles.plan((1280, 720), 2, 2, 0.33, whole=True)
    assert views[0] == tiles.View(0, 0, 1280, 720, True) and len(views) == 5
    parts = views[1:]
    assert {(v.x, v.y) for v in parts} == {(0, 0), (1280 - parts[0].width, 0), (0, 720 - parts[0].height),
                                          (1280 - parts[0].width, 720 - parts[0].height)}
    w, h = parts[0].width, parts[0].height
    assert 2 * w - 1280 >= 0.33 * w - 1 and 2 * h - 720 >= 0.33 * h - 1  # neighbours share a third
    assert tiles.plan((640, 480), 1, 1, 0.33, whole=False) == [tiles.View(0, 0, 640, 480, True)]


def test_tiled_boxes_come_back_in_frame_pixels(tmp_path):
    # the model reports one person at the same place of every picture it sees: once per tile
    rows = np.array([[100.0, 120.0, 100.0, 160.0, 0.9, 0.9, 0.1]])  # cx, cy, w, h in the 320 input
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    cfg = Config(model=str(path), layout="yolov5", classes=["person", "car"], providers=["cpu"],
                 tiles=(2, 1), tile_overlap=0, tile_whole_frame=False)
    dets = OnnxModel(cfg, path).infer([np.zeros((640, 1280, 3), np.uint8)])[0]
    # each 640x640 tile is seen at half size: the box is (50, 40, 150, 200) x 2, then offset by the tile
    assert sorted(d.box for d in dets) == [pytest.approx((100, 80, 300, 400), abs=0.6),
                                           pytest.approx((740, 80, 940, 400), abs=0.6)]
    untiled = OnnxModel(cfg.model_copy(update={"tiles": "off"}), path).infer([np.zeros((640, 1280, 3), np.uint8)])[0]
    assert len(untiled) == 1


def test_one_object_seen_in_several_views_is_one_detection():
    views = tiles.plan((1280, 720), 2, 2, 0.33, whole=True)
    x, y = views[4].x, views[4].y  # the bottom-right tile
    found = [
        [Detection("car", 0.6, 900, 500, 1000, 560)],  # whole frame
        [], [], [Detection("person", 0.7, 10, 10, 30, 60)],  # a person in the bottom-left tile
        [Detection("car", 0.8, 900 - x + 2, 500 - y, 1000 - x, 560 - y + 1)],  # the same car, better seen
    ]
    merged = tiles.merge(views, found, 0.5, 100, agnostic=False)
    assert sorted((d.label, d.score) for d in merged) == [("car", pytest.approx(0.8)), ("person", pytest.approx(0.7))]
    car = next(d for d in merged if d.label == "car")
    assert car.box == pytest.approx((902, 500, 1000, 561))
    person = next(d for d in merged if d.label == "person")
    assert person.box == pytest.approx((10, views[3].y + 10, 30, views[3].y + 60))


def test_a_car_across_a_tiles_seam_is_one_whole_box():
    """Two tiles each see half of a car (their boxes end on the tiles' inner edges) and score it better than
    the whole frame does: NMS alone kept a half (IoU with the car under 0.5); the halves are joined instead."""
    views = tiles.plan((1280, 720), 4, 2, 0.33, whole=False)
    left, right = views[0], views[1]  # x 0-426 and 285-711 of the top row
    car = (380, 100, 460, 150)  # across the left tile's right edge (426), inside the right tile
    found = [[] for _ in views]
    found[0] = [Detection("car", 0.9, car[0], car[1], left.width, car[3])]  # cut: ends on the inner edge
    found[1] = [Detection("car", 0.7, car[0] - right.x, car[1], car[2] - right.x, car[3])]  # the whole car
    third, fourth = views[2], views[3]  # x 569-995 and 854-1280
    found[2] = [Detection("car", 0.8, 900 - third.x, 300, third.width - 1, 350)]  # another car, cut by the third tile
    found[3] = [Detection("car", 0.6, 999 - fourth.x, 300, 1050 - fourth.x, 350)]  # its neighbour, beyond that edge
    merged = sorted(tiles.merge(views, found, 0.5, 100, agnostic=False, join=True), key=lambda d: d.x1)
    assert [d.box for d in merged] == [pytest.approx(car), pytest.approx((900, 300, 994, 350)), pytest.approx((999, 300, 1050, 350))]
    assert merged[0].score == pytest.approx(0.9)  # the cut box's score, grown to the whole car
    unjoined = sorted(tiles.merge(views, found, 0.5, 100, agnostic=False), key=lambda d: d.x1)  # tile_join off
    assert unjoined[0].box == pytest.approx((380, 100, left.width, 150))  # NMS alone keeps the better half
    # a cut box is only ever grown across the side its tile cut; a box inside a tile is left as it was
    sides = tiles.cut_sides(left, found[0][0], (1280, 720))
    assert sides == (False, False, True, False)
    assert tiles.cut_sides(fourth, found[3][0], (1280, 720)) == (False, False, False, False)


def test_a_cut_box_is_not_grown_into_a_loose_box_over_a_queue():
    """The whole frame, shrunk 4 times, may box a queue of cars as one "car": a cut car inside it is not grown into
    it, whether that box is faint (the tracker takes boxes from 0.1) or sure but runs far beyond the car along the
    cut edge (measured: such a grown box, 740x600 px at 0.73, walked against a lane and alerted a wrong way)."""
    views = tiles.plan((1280, 720), 4, 2, 0.33, whole=True)
    left = views[1]  # the top-left tile, x 0-426
    cut = Detection("car", 0.73, 380, 100, left.width, 150)  # a car cut by the tile's right edge
    for queue in (Detection("car", 0.15, 300, 90, 470, 160),  # faint, though it fits the car
                  Detection("car", 0.8, 300, 20, 900, 500)):  # sure, but 480 px tall where the car is 50
        found = [[queue], [cut]] + [[] for _ in views[2:]]
        merged = tiles.merge(views, found, 0.5, 100, agnostic=False, join=True)
        assert sorted((d.box, round(d.score, 2)) for d in merged) == sorted([(cut.box, 0.73), (queue.box, queue.score)])


@pytest.mark.parametrize("tiles_value", ["[0, 2]", '"many"', "[2, 2, 2]"])
def test_tiles_config_refuses_a_bad_grid(make_deployment, tiles_value):
    d = make_deployment(f"[plugins.vision_onnx]\ntiles = {tiles_value}\n")
    with pytest.raises(ConfigErrors) as err:
        load_plugins(load_file(d.path))
    assert "plugins.vision_onnx.tiles" in str(err.value)


# --- bad model files -------------------------------------------------------


def test_missing_model_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(ModelError) as err:
        OnnxModel(Config(providers=["cpu"]), tmp_path / "nope.onnx")
    assert str(tmp_path / "nope.onnx") in str(err.value) and "\n" not in str(err.value)
    assert "does not exist" in str(err.value)


def test_corrupt_model_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" * 50)
    with pytest.raises(ModelError) as err:
        OnnxModel(Config(providers=["cpu"], layout="yolov8"), bad)
    assert str(bad) in str(err.value) and "not a readable ONNX model" in str(err.value) and "\n" not in str(err.value)


def test_model_that_does_not_match_its_layout_is_refused_at_load(tmp_path):
    rows = np.zeros((1, 10, 7))
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows})
    with pytest.raises(ModelError) as err:
        OnnxModel(Config(providers=["cpu"], layout="ssd"), path)
    assert str(path) in str(err.value) and "layout 'ssd'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelError, match="set layout"):
        OnnxModel(Config(providers=["cpu"]), path)  # no layout configured, none in the metadata


async def test_detector_with_a_broken_model_reports_down_and_refuses_detect(tmp_path):
    det = OnnxDetector(Config(providers=["cpu"]), tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="does not exist"):
        await det.detect([FRAME])
    health = det.health()
    assert health["status"] == "down" and "nope.onnx" in health["reason"]


def test_gpu_provider_that_fails_falls_back_to_cpu_with_a_reason(tmp_path):
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    model = OnnxModel(Config(model=str(path), layout="yolov5", providers=["cuda", "cpu"]), path)
    if model.provider == "CUDAExecutionProvider":  # a machine with a GPU: nothing to fall back from
        assert model.fallback_reason is None
    else:
        assert model.provider == "CPUExecutionProvider"
        assert model.fallback_reason.startswith("CUDAExecutionProvider ") and model.fallback_reason.endswith(
            "using CPUExecutionProvider"
        )
        assert "\n" not in model.fallback_reason
    assert model.info().provider == model.provider
    assert len(model.infer([FRAME])[0]) == 1  # and it detects


def test_gpu_libraries_are_preloaded_once_and_quietly(capsys, monkeypatch):
    """CUDA from pip wheels needs onnxruntime.preload_dlls; where it is missing that prints, which must not reach stdout."""
    import onnxruntime as ort

    from plugins.vision_onnx import model as model_mod

    calls = []

    def preload():
        calls.append(1)
        print("Failed to load libcudart.so.13: no such file")

    model_mod.preload_gpu_libraries.cache_clear()
    monkeypatch.setattr(ort, "preload_dlls", preload)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    try:
        assert model_mod.preload_gpu_libraries() == "Failed to load libcudart.so.13: no such file"
        assert model_mod.preload_gpu_libraries() == "Failed to load libcudart.so.13: no such file"
        assert calls == [1]  # once a process
        assert capsys.readouterr().out == ""
    finally:
        model_mod.preload_gpu_libraries.cache_clear()


# --- batching ----------------------------------------------------------------


async def test_frames_of_several_cameras_share_one_inference(tmp_path):
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    det = OnnxDetector(Config(layout="yolov5", classes=["person", "car"], providers=["cpu"], batch_size=8, batch_wait_ms=50), path)
    await asyncio.to_thread(det.start)
    try:
        assert isinstance(det, Detector)
        cameras = [FRAME, np.zeros((240, 320, 3), np.uint8), FRAME, FRAME]
        results = await asyncio.gather(*(det.detect([f]) for f in cameras))
        # one person per frame, in each frame's own pixels
        assert [len(r[0]) for r in results] == [1, 1, 1, 1]
        assert results[1][0][0].box == pytest.approx(tuple(v / 2 for v in PERSON), abs=0.6)
        stats = det.batcher.stats
        assert stats.frames == 4 and stats.batches < 4  # gathered into fewer runs than frames
        health = det.health()
        assert health["status"] == "ok" and health["provider"] == "CPUExecutionProvider" and health["frames"] == 4
    finally:
        det.close()


async def test_closing_the_detector_stops_the_threads_that_prepare_a_gpus_batches(tmp_path, monkeypatch):
    # on a GPU the frames of a batch are resized on a pool of threads; this machine has none, so the CPU provider
    # is taken for a GPU one here: what is tested is that close() ends those threads, not the GPU
    from plugins.vision_onnx import model as model_mod

    monkeypatch.setattr(model_mod, "GPU_PROVIDERS", model_mod.GPU_PROVIDERS | {"CPUExecutionProvider"})
    monkeypatch.setattr(model_mod, "preload_gpu_libraries", lambda: "")
    monkeypatch.setattr(model_mod.os, "cpu_count", lambda: 4)
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    det = OnnxDetector(Config(layout="yolov5", classes=["person", "car"], providers=["cpu"], batch_size=4,
                              batch_wait_ms=50, isolation="thread"), path)
    await asyncio.to_thread(det.start)

    def preparing() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("vision-prepare")]

    try:
        results = await asyncio.gather(*(det.detect([FRAME]) for _ in range(4)))
        assert [len(r[0]) for r in results] == [1, 1, 1, 1] and det.batcher.stats.batches < 4
        assert preparing()  # a batch of several frames was prepared on the pool
    finally:
        det.close()
    assert preparing() == []
    det.close()  # again is harmless


def thread_policies() -> dict[int, int]:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            out[int(tid)] = os.sched_getscheduler(int(tid))
        except OSError:  # ended meanwhile
            pass
    return out


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_inference_threads_and_onnx_runtimes_own_pool_yield_to_live_view_without_sched_idle_in_the_server(tmp_path, monkeypatch):
    from core.media import frame_decode

    monkeypatch.setattr(frame_decode, "FRAME_POLICY", None)
    monkeypatch.setattr(frame_decode, "POLICY_NAME", "nice")
    frame_decode.set_thread_policy("idle")  # [analytics] thread_policy = "idle"
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    before = thread_policies()
    # in the server: the threads are this process's (a detector process lowers its own: test_vision_onnx_process.py)
    det = OnnxDetector(Config(layout="yolov5", classes=["person", "car"], providers=["cpu"], threads=2, isolation="thread"), path)
    det.start()  # on this (normal) thread, as the plugin's start-up thread calls it
    try:
        started = {tid: policy for tid, policy in thread_policies().items() if tid not in before}
        # the batcher's thread and the intra-op pool ONNX Runtime starts with the session (threads=2: one more), at
        # nice +10; not at SCHED_IDLE even so: in the server they take its GIL (a detector process's threads are:
        # test_vision_onnx_process.py)
        assert len(started) >= 2 and set(started.values()) == {os.SCHED_OTHER}, started
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in started} == {min(19, mine + 10)}
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's own thread is left as it was
    finally:
        det.close()


async def test_a_full_queue_drops_the_oldest_frame_and_counts_it():
    # the model stand-in blocks until released, to hold the worker busy at a known moment
    release, running_now = threading.Event(), threading.Event()

    def slow_infer(frames):
        running_now.set()
        release.wait(10)
        return [[] for _ in frames]

    b = Batcher(slow_infer, max_batch=1, wait_s=0, queue_size=2)
    try:
        first = b.submit(FRAME)
        await asyncio.to_thread(running_now.wait, 10)  # the worker holds frame 1
        queued = [b.submit(FRAME) for _ in range(3)]  # room for two: the oldest of these goes
        with pytest.raises(FramesDropped):
            await asyncio.wait_for(queued[0], 5)
        assert b.stats.dropped == 1
        release.set()
        assert await asyncio.wait_for(first, 5) == []
        assert await asyncio.wait_for(asyncio.gather(*queued[1:]), 5) == [[], []]
    finally:
        release.set()
        b.close()


# --- the plugin in a deployment ------------------------------------------------


def test_plugin_config_refuses_unknown_keys(make_deployment):
    d = make_deployment("[plugins.vision_onnx]\nbatch = 4\n")
    with pytest.raises(ConfigErrors) as err:
        load_plugins(load_file(d.path))
    assert "plugins.vision_onnx.batch" in str(err.value)


async def test_plugin_registers_its_detector_and_reports_the_provider_in_health(make_deployment, tmp_path):
    rows = np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])
    path = constant_model(tmp_path / "v5.onnx", {"output0": rows[None]})
    d = make_deployment(f'[plugins.vision_onnx]\nmodel = "{path}"\nlayout = "yolov5"\nclasses = ["person", "car"]\n')
    app = create_app(load_file(d.path))
    services = app.state.services
    [(name, det)] = services.plugins.detectors()
    assert name == "vision_onnx" and isinstance(det, Detector)
    async with running(app) as client:
        [[person]] = await det.detect([FRAME])
        assert person.label == "person"
        response = await client.get("/api/health", headers=await bearer_headers())
        entry = response.json()["plugins"]["vision_onnx"]
        report = entry["report"]
        assert entry["status"] == "ok" and report["provider"] == det.info().provider
        assert report["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider")
        if report["provider"] == "CPUExecutionProvider":  # the GPU providers are tried first: say why not
            assert report["fallback"].endswith("using CPUExecutionProvider")
        assert report["model"] == "v5.onnx" and report["frames"] >= 1 and report["tiles"] == "auto" and report["tile_join"] is False


async def test_tiles_and_the_seam_join_are_read_from_the_deployment_and_shown_in_health(make_deployment, tmp_path):
    path = constant_model(tmp_path / "v5.onnx", {"output0": np.array([[*to_input(PERSON), 0.9, 0.9, 0.1]])[None]})
    d = make_deployment(f'[plugins.vision_onnx]\nmodel = "{path}"\nlayout = "yolov5"\nclasses = ["person", "car"]\n'
                        "tiles = [4, 2]\ntile_join = true\n")
    app = create_app(load_file(d.path))
    [(_, det)] = app.state.services.plugins.detectors()
    async with running(app):
        assert det.config.tile_join is True
        report = det.health()
        assert report["tiles"] == [4, 2] and report["tile_join"] is True


async def test_plugin_with_a_missing_model_is_down_with_the_reason(make_deployment):
    d = make_deployment('[plugins.vision_onnx]\nmodel = "models/absent.onnx"\n')
    app = create_app(load_file(d.path))
    async with running(app) as client:
        response = await client.get("/api/health", headers=await bearer_headers())
        entry = response.json()["plugins"]["vision_onnx"]
        assert entry["status"] == "down" and "absent.onnx" in entry["reason"] and "does not exist" in entry["reason"]


def test_on_a_gpu_the_models_gpu_copy_runs_and_on_the_cpu_never(monkeypatch):
    """The default model's float copy (``NAME.gpu.onnx``) replaces it where the session lands on CUDA.

    No GPU here: a stand-in session runs the real graph on the CPU and reports CUDA as its provider,
    which is all the selection reads. The same model on the CPU provider keeps the quantized file.
    """
    from plugins.vision_onnx import model as model_mod

    path = dm.build()
    copy = model_mod.gpu_copy_of(path)
    assert copy.name == "ssd_mobilenet_v2_coco_quant.gpu.onnx" and copy.is_file()
    on_cpu = OnnxModel(Config(providers=["cpu"]), path)
    assert on_cpu.path == path and on_cpu.info().model == path.name and on_cpu._pool is None

    real = model_mod._session

    class OnCuda:
        def __init__(self, session):
            self.inner = session

        def get_providers(self):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

        def __getattr__(self, name):
            return getattr(self.inner, name)

    loaded = []

    def session(ort, p, options, providers):
        loaded.append(p.name)
        return OnCuda(real(ort, p, options, ["CPUExecutionProvider"]))

    monkeypatch.setattr(model_mod, "_session", session)
    on_gpu = OnnxModel(Config(providers=["cuda", "cpu"]), path)
    assert loaded == [path.name, copy.name] and on_gpu.path == copy
    assert on_gpu.info().model == copy.name and on_gpu.provider == "CUDAExecutionProvider" and on_gpu._pool is not None
    frames = dm.read_frames(dm.vtest_path(), every=200, limit=4)
    found = on_gpu.infer(frames)  # the frames fitted to the input by the pool, in order
    float_on_cpu = OnnxModel(Config(providers=["cpu"], model=str(copy)), copy)
    expected = [float_on_cpu.infer([f])[0] for f in frames]
    assert [[(d.label, round(d.score, 4)) for d in fr] for fr in found] == [
        [(d.label, round(d.score, 4)) for d in fr] for fr in expected]
    assert sum(len(fr) for fr in found) >= 10
