"""Does the default detector see the simulator? Recall and precision against the simulator's own truth.

    .venv/bin/python bench/sim_recall.py                          # every scenario, day and night, 1280x720
    .venv/bin/python bench/sim_recall.py --scenarios no_parking_stop --every 45 --misses

For each scenario, by day and by night (the camera's ``night`` override), frames
spread over one loop (every ``--every``-th of ``fps x loop_seconds``) are
rendered by the simulator's own renderer (the pixels it encodes; no H.264 round
trip unless ``--h264``) and run through the ``vision_onnx`` pipeline with the
default model (``data/models/``, built by ``python -m
plugins.vision_onnx.default_model``) on the CPU, at its default score threshold
(0.5). Detections are matched to the truth boxes by
:mod:`plugins.traffic_sim.scoring`: IoU >= 0.5, vehicles (car, truck, bus,
motorcycle) and people as two groups, objects counted when at least 40 px tall
(both groups), objects more than half hidden by nearer ones ignored.

Target: recall >= 0.8 for vehicles and for people, by day and by night. The last
line is JSON: ``rows`` (scenario, night, frames, per group: counted, recall,
precision), ``totals`` per lighting, ``render_ms`` and ``detect_ms`` per frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.traffic_sim.renderer import Renderer, RenderSpec  # noqa: E402
from plugins.traffic_sim.scenarios import SCENARIOS  # noqa: E402
from plugins.traffic_sim.scoring import Score, score_frame  # noqa: E402
from plugins.vision_onnx.config import Config  # noqa: E402
from plugins.vision_onnx.default_model import MODEL_NAME, SHARED_DATA  # noqa: E402
from plugins.vision_onnx.model import OnnxModel  # noqa: E402


def h264_round_trip(frames, width: int, height: int, fps: int):
    """The frames as a viewer decodes them: libx264 at the simulator's settings, then decoded."""
    import tempfile

    import av

    from plugins.traffic_sim.encoder import encode_h264

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip.mp4"
        encode_h264(iter(frames), path, width, height, fps, 2)
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def run_one(model: OnnxModel, scenario: str, night: bool, args) -> tuple[Score, Score, int, float, float]:
    spec = RenderSpec(scenario, args.seed, args.width, args.height, args.fps, args.loop_seconds, night=night, label="SIM")
    t0 = time.perf_counter()
    renderer = Renderer(spec)
    classes = {o["id"]: o["class"] for o in renderer.truth_header()["objects"]}
    indices = list(range(0, spec.frames, args.every))
    rendered = [renderer.frame(i) for i in indices]
    render_s = time.perf_counter() - t0
    pixels = [p for p, _ in rendered]
    if args.h264:
        pixels = h264_round_trip(pixels, spec.width, spec.height, spec.fps)
    t1 = time.perf_counter()
    detections = [tiled(model, p) if args.tiles else model.infer([p])[0] for p in pixels]
    detect_s = time.perf_counter() - t1
    total, large = Score(), Score()
    for i, (_, objects), dets in zip(indices, rendered, detections):
        total.add(score_frame(i, objects, classes, dets, min_height=args.min_height, iou_min=args.iou))
        large.add(score_frame(i, objects, classes, dets, min_height=args.large, iou_min=args.iou))
    return total, large, len(indices), render_s, detect_s


def tiled(model: OnnxModel, frame: np.ndarray) -> list:
    """What a detector that also looks at four overlapping quarters would find (not the plugin's way today).

    The whole frame and four tiles of 60 % of its width and height (overlapping by 20 %) are run;
    boxes are mapped back and merged by NMS (IoU 0.5, same label), best score first.
    """
    from core.analytics.detector import Detection
    from plugins.vision_onnx.layouts import nms

    h, w = frame.shape[:2]
    tw, th = round(w * 0.6), round(h * 0.6)
    views = [(0, 0, frame)] + [(x, y, frame[y : y + th, x : x + tw]) for y in (0, h - th) for x in (0, w - tw)]
    found = []
    for (x, y, view), dets in zip(views, model.infer([v for _, _, v in views])):
        found += [Detection(d.label, d.score, d.x1 + x, d.y1 + y, d.x2 + x, d.y2 + y) for d in dets]
    if not found:
        return []
    labels = sorted({d.label for d in found})
    boxes = np.array([(d.x1, d.y1, d.x2, d.y2) for d in found], np.float32)
    scores = np.array([d.score for d in found], np.float32)
    classes = np.array([labels.index(d.label) for d in found])
    boxes, scores, classes = nms(boxes, scores, classes, 0.5, 100)
    return [Detection(labels[int(c)], float(s), *map(float, b)) for b, s, c in zip(boxes, scores, classes)]


def real_reference(model: OnnxModel, height: int = 720, width: int = 1280) -> list[tuple[int, int, int]]:
    """How small a real person may be: vtest.avi's frames shrunk into a WxH frame, people found.

    vtest.avi's people stand about 100 of its 576 rows tall. Returns (their height in the WxH
    frame, people found at score >= 0.5, cars found) per scale; the first row is the clip as it is.
    """
    from PIL import Image

    from plugins.vision_onnx.default_model import read_frames, vtest_path

    video = vtest_path()
    if video is None:
        return []
    frames = read_frames(video, every=100, limit=8)
    rows = []
    for scale in (None, 0.75, 0.5, 0.4):
        people = cars = 0
        for f in frames:
            if scale is None:
                frame = f
            else:
                small = np.asarray(Image.fromarray(f).resize((round(f.shape[1] * scale), round(f.shape[0] * scale)), Image.BILINEAR))
                frame = np.full((height, width, 3), 120, np.uint8)
                y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
                frame[y : y + small.shape[0], x : x + small.shape[1]] = small
            for d in model.infer([frame])[0]:
                people += d.label == "person"
                cars += d.label == "car"
        tall = round(100 * height / 576) if scale is None else round(100 * scale)
        rows.append((tall, people, cars))
    return rows


def line(s: Score, large: Score) -> str:
    v, p, lv, lp = s.groups["vehicle"], s.groups["person"], large.groups["vehicle"], large.groups["person"]
    return (f"{v.found + v.missed:5d} {fmt(v.recall):>6} {fmt(v.precision):>5}  {p.found + p.missed:5d} {fmt(p.recall):>6} {fmt(p.precision):>5}"
            f"  {lv.found + lv.missed:8d} {fmt(lv.recall):>6}  {lp.found + lp.missed:8d} {fmt(lp.recall):>6}")


def figures(s: Score, large: Score) -> dict:
    out = {g: {"counted": t.found + t.missed, "recall": t.recall, "precision": t.precision} for g, t in s.groups.items()}
    for g, t in large.groups.items():
        out[f"{g}_large"] = {"counted": t.found + t.missed, "recall": t.recall}
    return out


def fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:5.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--lighting", choices=["day", "night", "both"], default="both")
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--resolution", default="1280x720")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--loop-seconds", type=int, default=30)
    parser.add_argument("--every", type=int, default=15, help="score every N-th frame of the loop")
    parser.add_argument("--min-height", type=float, default=40.0, help="objects counted from this height (px)")
    parser.add_argument("--large", type=float, default=90.0, help="a second count from this height (px)")
    parser.add_argument("--no-reference", action="store_true", help="skip the vtest.avi reference")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--h264", action="store_true", help="score frames after an H.264 round trip")
    parser.add_argument("--tiles", action="store_true", help="also run the model on four overlapping quarters (see tiled())")
    parser.add_argument("--model", type=Path, default=SHARED_DATA / "models" / MODEL_NAME)
    parser.add_argument("--misses", action="store_true", help="list every missed object")
    args = parser.parse_args(argv)
    args.width, args.height = (int(v) for v in args.resolution.split("x"))
    if not args.model.is_file():
        print(f"{args.model} missing: run python -m plugins.vision_onnx.default_model", file=sys.stderr)
        return 1
    model = OnnxModel(Config(providers=["cpu"], threads=1), args.model)
    lightings = {"day": [False], "night": [True], "both": [False, True]}[args.lighting]
    rows, totals, totals_large = [], {False: Score(), True: Score()}, {False: Score(), True: Score()}
    render_s = detect_s = 0.0
    frames = 0
    big = int(args.large)
    print(f"objects >= {args.min_height:g} px tall (and, right, >= {big} px); IoU >= {args.iou}; score >= 0.5")
    print(f"{'scenario':16} {'light':5} {'frames':>6}  {'veh n':>5} {'recall':>6} {'prec':>5}  {'ppl n':>5} {'recall':>6} {'prec':>5}"
          f"  {f'veh>{big}':>8} {'recall':>6}  {f'ppl>{big}':>8} {'recall':>6}")
    for scenario in args.scenarios:
        for night in lightings:
            s, large, n, rs, ds = run_one(model, scenario, night, args)
            render_s, detect_s, frames = render_s + rs, detect_s + ds, frames + n
            totals[night].add(s)
            totals_large[night].add(large)
            print(f"{scenario:16} {'night' if night else 'day':5} {n:6d}  {line(s, large)}", flush=True)
            if args.misses:
                for i, oid, box in s.misses:
                    print(f"    missed frame {i} {oid} {box}")
            rows.append({"scenario": scenario, "night": night, "frames": n, **figures(s, large)})
    summary = {}
    for night in lightings:
        light = "night" if night else "day"
        print(f"{'ALL':16} {light:5} {'':6}  {line(totals[night], totals_large[night])}")
        summary[light] = figures(totals[night], totals_large[night])
    print(f"render {1000 * render_s / max(1, frames):.0f} ms/frame, detect {1000 * detect_s / max(1, frames):.0f} ms/frame, {frames} frames")
    reference = [] if args.no_reference else real_reference(model, args.height, args.width)
    for tall, people, cars in reference:
        print(f"reference: vtest.avi's people at ~{tall} px tall in a {args.width}x{args.height} frame: {people} people, {cars} cars found (8 frames)")
    print(json.dumps({"rows": rows, "totals": summary, "reference": reference, "render_ms": round(1000 * render_s / max(1, frames), 1),
                      "detect_ms": round(1000 * detect_s / max(1, frames), 1), "resolution": args.resolution,
                      "seed": args.seed, "min_height": args.min_height, "large": args.large, "iou": args.iou, "h264": args.h264, "tiles": args.tiles}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
