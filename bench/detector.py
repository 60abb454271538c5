"""The default detector: inferences per second, our pipeline against bare onnxruntime, classes on vtest.avi.

    .venv/bin/python bench/detector.py                       # batch 1, 4, 8; 3 s per figure
    .venv/bin/python bench/detector.py --batches 1 --seconds 0.5 --every 100   # a quick look
    .venv/bin/python bench/detector.py --model data/models/yolov3_tiny_416.onnx  # another model (docs/detectors.md)

For each execution provider that loads here (the CPU always; CUDA or TensorRT
on a machine with a GPU) and each batch size, two figures on the same frames of
``vtest.avi`` (768x576), in the same run, measured in alternating rounds so
that a busy machine slows both alike:

- **bare**: ``InferenceSession.run`` on input tensors prepared beforehand, the
  least any caller pays;
- **plugin**: the ``vision_onnx`` detector as analyzers use it: ``batch``
  frames submitted at once from the event loop (as ``batch`` cameras would),
  batched by its thread, resized, run, decoded, NMS, boxes mapped back.

A third figure is the CPU time of fitting the same frames to the model's
input (resize and scaling), which any caller pays; "beyond resize" is the
overhead against bare run plus that. Each figure is given as frames per wall second and as CPU milliseconds of
this process per frame. On the CPU the overhead is plugin over bare CPU time
per frame, minus one (a busy, shared machine stretches wall time of both
unevenly; CPU time it does not); on a GPU it is bare over plugin frames per
second, minus one. Target: under 10 %. onnxruntime gets one intra-op thread
by default here (``--threads``), so CPU time is work, not spinning. Then the
detections per class (score >= 0.5) over every ``--every``-th frame of the
clip. Tiles: the plugin's CPU per 1280x720 frame (vtest.avi's frames enlarged)
with ``tiles`` off and ``auto`` (the whole frame and 3 x 2 tiles: seven views),
and the classes over the clip again with tiles forced to 2 x 2 (``auto`` does not
tile its 768x576 frames). The last line is JSON: ``model``, ``rows`` (provider, batch,
``bare_ips``, ``plugin_ips``, ``bare_cpu_ms``, ``plugin_cpu_ms``, ``overhead``,
``mean_batch``), ``tiles`` (``tiles``, ``views``, ``plugin_ips``,
``plugin_cpu_ms``), ``classes``, ``classes_tiles_2x2``, ``frames``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.analytics.assignment import boxes_array, iou_matrix, match  # noqa: E402
from plugins.vision_onnx import default_model as dm  # noqa: E402
from plugins.vision_onnx.config import Config  # noqa: E402
from plugins.vision_onnx.detector import OnnxDetector  # noqa: E402
from plugins.vision_onnx.model import PROVIDERS, OnnxModel  # noqa: E402


def loaded_providers(model_path: Path) -> list[str]:
    """The providers that really load here, by trying each alone (GPU ones fall back silently)."""
    out = []
    for key in ("tensorrt", "cuda", "cpu"):
        try:
            m = OnnxModel(Config(providers=[key]), model_path)
        except Exception:
            continue
        if m.provider == PROVIDERS[key]:
            out.append(key)
    return out


def rate(fn, items_per_call: int, seconds: float) -> tuple[float, float]:
    """(items per wall second, CPU ms of this process per item) over about ``seconds``."""
    fn()  # warm-up: first runs allocate
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += items_per_call
    return n / (time.perf_counter() - t0), 1000 * (time.process_time() - c0) / n


def measure(model_path: Path, provider: str, batch: int, frames: list[np.ndarray], seconds: float, rounds: int, threads: int) -> dict:
    # in the server: this process's CPU clock is the measure, and bare runs here (a detector process's CPU is not counted)
    config = Config(providers=[provider], batch_size=batch, batch_wait_ms=20, queue_size=max(32, 2 * batch), threads=threads,
                    isolation="thread")
    model = OnnxModel(config, model_path)
    chunk = frames[:batch]
    tensor = np.stack([model.prepare(f)[0] for f in chunk])

    def bare() -> None:
        model.session.run(None, {model.input_name: tensor})

    det = OnnxDetector(config, model_path)
    det.start()
    loop = asyncio.new_event_loop()

    async def cameras() -> None:
        await asyncio.gather(*(det.detect([f]) for f in chunk))

    def plugin() -> None:
        loop.run_until_complete(cameras())

    def resize() -> None:  # what any caller pays to fit camera frames to the model's input
        for f in chunk:
            model.prepare(f)

    bare_r, plugin_r, resize_r = [], [], []
    try:
        for _ in range(rounds):
            bare_r.append(rate(bare, batch, seconds / rounds))
            plugin_r.append(rate(plugin, batch, seconds / rounds))
            resize_r.append(rate(resize, batch, min(0.2, seconds / rounds)))
    finally:
        det.close()
        loop.close()
    (b_ips, b_cpu), (p_ips, p_cpu) = np.median(bare_r, axis=0), np.median(plugin_r, axis=0)
    r_cpu = float(np.median([c for _, c in resize_r]))
    # on the CPU, CPU time per frame is the fair figure on a shared machine; on a GPU, wall time
    overhead = p_cpu / b_cpu - 1 if provider == "cpu" else b_ips / p_ips - 1
    if provider == "cpu":
        beyond = p_cpu / (b_cpu + r_cpu) - 1
    else:  # ms per frame on the wall clock; the resize runs on the CPU either way
        beyond = (1000 / p_ips) / (1000 / b_ips + r_cpu) - 1
    stats = det.batcher.stats
    return {
        "provider": PROVIDERS[provider], "batch": batch, "bare_ips": round(float(b_ips), 1),
        "plugin_ips": round(float(p_ips), 1), "bare_cpu_ms": round(float(b_cpu), 1),
        "plugin_cpu_ms": round(float(p_cpu), 1), "resize_cpu_ms": round(r_cpu, 1),
        "overhead": round(float(overhead), 3), "overhead_beyond_resize": round(float(beyond), 3),
        "mean_batch": round(stats.frames / max(stats.batches, 1), 2),
    }


def tiles_cost(model_path: Path, frames: list[np.ndarray], seconds: float, rounds: int, threads: int,
               provider: str = "cpu") -> list[dict]:
    """Per 1280x720 frame (vtest.avi's frames enlarged), one camera, plugin path, tiles off and auto."""
    from PIL import Image

    from plugins.vision_onnx import tiles

    big = [np.asarray(Image.fromarray(f).resize((1280, 720), Image.BILINEAR)) for f in frames[:4]]
    out = []
    for setting in ("off", "auto"):
        config = Config(providers=[provider], batch_size=1, batch_wait_ms=0, threads=threads, tiles=setting, isolation="thread")
        det = OnnxDetector(config, model_path)
        det.start()
        loop = asyncio.new_event_loop()
        it = iter(range(1 << 30))

        def one() -> None:
            loop.run_until_complete(det.detect([big[next(it) % len(big)]]))

        try:
            runs = [rate(one, 1, seconds / rounds) for _ in range(rounds)]
        finally:
            det.close()
            loop.close()
        ips, cpu = np.median(runs, axis=0)
        views = len(tiles.plan((1280, 720), *tiles.grid(setting, (1280, 720), det.model.input_size), config.tile_overlap, True))
        out.append({"provider": PROVIDERS[provider], "tiles": setting, "frame": "1280x720", "views": views, "plugin_ips": round(float(ips), 1),
                    "plugin_cpu_ms": round(float(cpu), 1)})
    return out


def parity(model_path: Path, provider: str, frames: list[np.ndarray]) -> dict:
    """The detections of ``provider`` against the CPU's on the same frames: same class and IoU >= 0.9 count as one."""
    cpu = OnnxModel(Config(providers=["cpu"], score_threshold=0.5), model_path)  # the sure boxes: below, scores
    other = OnnxModel(Config(providers=[provider], score_threshold=0.5), model_path)  # near a threshold swap in and out
    matched = only_cpu = only_other = 0
    score_diffs: list[float] = []
    for frame in frames:
        a, b = cpu.infer([frame])[0], other.infer([frame])[0]
        iou = iou_matrix(boxes_array([d.box for d in a]), boxes_array([d.box for d in b]))
        same = np.array([[d.label == e.label for e in b] for d in a], dtype=bool).reshape(iou.shape)
        pairs, left_a, left_b = match(np.where(same, iou, 0.0), 0.9)
        matched += len(pairs)
        only_cpu += len(left_a)
        only_other += len(left_b)
        score_diffs += [abs(a[i].score - b[j].score) for i, j in pairs]
    return {"provider": PROVIDERS[provider], "model": other.path.name, "cpu_model": cpu.path.name, "frames": len(frames), "matched": matched, "only_cpu": only_cpu,
            "only_other": only_other, "max_score_diff": round(max(score_diffs, default=0.0), 4)}


def classes_over_clip(model_path: Path, video: Path, every: int, tiles="auto") -> tuple[dict[str, int], int]:
    model = OnnxModel(Config(providers=["cpu"], tiles=tiles, score_threshold=0.5), model_path)
    counts: dict[str, int] = {}
    frames = dm.read_frames(video, every=every)
    for frame in frames:
        for d in model.infer([frame])[0]:
            counts[d.label] = counts.get(d.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])), len(frames)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,4,8", help="comma-separated batch sizes")
    parser.add_argument("--seconds", type=float, default=3.0, help="per figure (bare and plugin each)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per figure")
    parser.add_argument("--every", type=int, default=10, help="classes over every N-th frame of vtest.avi")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (0: its default)")
    parser.add_argument("--model", type=Path, default=None,
                        help="another ONNX model, e.g. data/models/yolov3_tiny_416.onnx (default: the default model)")
    args = parser.parse_args()
    model_path = args.model or dm.build()  # the default is built by set-up: this only checks its stamp
    video = dm.vtest_path()
    if video is None:
        print(f"{dm.VTEST} missing: scripts/setup.sh installs opencv-doc", file=sys.stderr)
        return 1
    batches = [int(b) for b in args.batches.split(",")]
    frames = dm.read_frames(video, every=97, limit=max(batches))
    providers = loaded_providers(model_path)
    rows = [measure(model_path, p, b, frames, args.seconds, args.rounds, args.threads) for p in providers for b in batches]
    gpu_copy = model_path.with_name(model_path.stem + ".gpu.onnx")
    on_gpu = gpu_copy.name if gpu_copy.is_file() else "the same"
    print(f"model {model_path.name} (on a GPU: {on_gpu}), vtest.avi frames 768x576, {args.threads or 'default'} intra-op thread(s)")
    print(f"{'provider':<24}{'batch':>6}{'bare/s':>9}{'plugin/s':>10}{'bare CPU ms':>13}{'plugin CPU ms':>15}"
          f"{'resize ms':>11}{'overhead':>10}{'beyond resize':>15}")
    for r in rows:
        print(f"{r['provider']:<24}{r['batch']:>6}{r['bare_ips']:>9}{r['plugin_ips']:>10}{r['bare_cpu_ms']:>13}"
              f"{r['plugin_cpu_ms']:>15}{r['resize_cpu_ms']:>11}{r['overhead']:>10.1%}{r['overhead_beyond_resize']:>15.1%}")
    print("per second: frames inferred per wall second; CPU ms: this process's CPU per frame; overhead: plugin over"
          " bare, on CPU time for the CPU provider (fair on a busy machine), on wall time for a GPU; beyond resize:"
          " against bare plus the resize of each 768x576 frame to the model's input, which every caller pays")
    if "cuda" not in providers and "tensorrt" not in providers:
        print("no GPU provider loads here: CPU only")
    tiled = [r for p in providers for r in tiles_cost(model_path, frames, args.seconds, args.rounds, args.threads, p)]
    for r in tiled:
        print(f"{r['provider']}: tiles {r['tiles']:<5} {r['frame']} frame, {r['views']} view(s) per frame, batch 1: {r['plugin_ips']} frames/s,"
              f" {r['plugin_cpu_ms']} CPU ms per frame")
    classes, n = classes_over_clip(model_path, video, args.every)
    print(f"detections per class (score >= 0.5) over {n} frames of vtest.avi (every {args.every}th; 768x576, not tiled"
          f" by tiles=auto): {classes}")
    classes_2x2, _ = classes_over_clip(model_path, video, args.every, tiles=(2, 2))
    print(f"the same with tiles forced to 2 x 2: {classes_2x2}")
    same = []
    for p in providers:
        if p != "cpu":  # a GPU must find what the CPU finds
            r = parity(model_path, p, dm.read_frames(video, every=args.every))
            same.append(r)
            print(f"{r['provider']} ({r['model']}) against the CPU ({r['cpu_model']}) over {r['frames']} frames: {r['matched']} detections the same (class, IoU >= 0.9),"
                  f" {r['only_cpu']} only on the CPU, {r['only_other']} only on {r['provider']}, scores differ by at most {r['max_score_diff']}")
    print(json.dumps({"model": model_path.name, "rows": rows, "tiles": tiled, "classes": classes, "classes_tiles_2x2": classes_2x2,
                      "frames": n, "parity": same}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
