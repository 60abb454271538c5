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


def run_one(model: OnnxModel, scenario: str, night: bool, args) -> tuple[Score, int, float, float]:
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
    detections = [model.infer([p])[0] for p in pixels]
    detect_s = time.perf_counter() - t1
    total = Score()
    for i, (_, objects), dets in zip(indices, rendered, detections):
        total.add(score_frame(i, objects, classes, dets, min_height=args.min_height, iou_min=args.iou))
    return total, len(indices), render_s, detect_s


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
    parser.add_argument("--min-height", type=float, default=40.0)
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--h264", action="store_true", help="score frames after an H.264 round trip")
    parser.add_argument("--model", type=Path, default=SHARED_DATA / "models" / MODEL_NAME)
    parser.add_argument("--misses", action="store_true", help="list every missed object")
    args = parser.parse_args(argv)
    args.width, args.height = (int(v) for v in args.resolution.split("x"))
    if not args.model.is_file():
        print(f"{args.model} missing: run python -m plugins.vision_onnx.default_model", file=sys.stderr)
        return 1
    model = OnnxModel(Config(providers=["cpu"], threads=1), args.model)
    lightings = {"day": [False], "night": [True], "both": [False, True]}[args.lighting]
    rows, totals = [], {False: Score(), True: Score()}
    render_s = detect_s = 0.0
    frames = 0
    print(f"{'scenario':16} {'light':5} {'frames':>6}  {'veh n':>5} {'recall':>6} {'prec':>5}  {'ppl n':>5} {'recall':>6} {'prec':>5}")
    for scenario in args.scenarios:
        for night in lightings:
            s, n, rs, ds = run_one(model, scenario, night, args)
            render_s, detect_s, frames = render_s + rs, detect_s + ds, frames + n
            totals[night].add(s)
            v, p = s.groups["vehicle"], s.groups["person"]
            print(f"{scenario:16} {'night' if night else 'day':5} {n:6d}  {v.found + v.missed:5d} {fmt(v.recall):>6} {fmt(v.precision):>5}"
                  f"  {p.found + p.missed:5d} {fmt(p.recall):>6} {fmt(p.precision):>5}", flush=True)
            if args.misses:
                for i, oid, box in s.misses:
                    print(f"    missed frame {i} {oid} {box}")
            rows.append({"scenario": scenario, "night": night, "frames": n, **{
                g: {"counted": t.found + t.missed, "recall": t.recall, "precision": t.precision} for g, t in s.groups.items()}})
    summary = {}
    for night in lightings:
        s = totals[night]
        v, p = s.groups["vehicle"], s.groups["person"]
        light = "night" if night else "day"
        print(f"{'ALL':16} {light:5} {'':6}  {v.found + v.missed:5d} {fmt(v.recall):>6} {fmt(v.precision):>5}"
              f"  {p.found + p.missed:5d} {fmt(p.recall):>6} {fmt(p.precision):>5}")
        summary[light] = {g: {"counted": t.found + t.missed, "recall": t.recall, "precision": t.precision} for g, t in s.groups.items()}
    print(f"render {1000 * render_s / max(1, frames):.0f} ms/frame, detect {1000 * detect_s / max(1, frames):.0f} ms/frame, {frames} frames")
    print(json.dumps({"rows": rows, "totals": summary, "render_ms": round(1000 * render_s / max(1, frames), 1),
                      "detect_ms": round(1000 * detect_s / max(1, frames), 1), "resolution": args.resolution,
                      "seed": args.seed, "min_height": args.min_height, "iou": args.iou, "h264": args.h264}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
