"""Does the default detector see the simulator? Recall and precision against the simulator's own truth.

    .venv/bin/python bench/sim_recall.py                          # every scenario, day and night, 1280x720
    .venv/bin/python bench/sim_recall.py --scenarios no_parking_stop --every 45 --misses
    .venv/bin/python bench/sim_recall.py --every 30 --baseline-tiles none --by-class   # where recall is lost
    .venv/bin/python bench/sim_recall.py --every 30 --baseline-tiles none --by-class --seed 101 202 303

For each scenario, by day and by night (the camera's ``night`` override), frames
spread over one loop (every ``--every``-th of ``fps x loop_seconds``) are
rendered by the simulator's own renderer (the pixels it encodes; no H.264 round
trip unless ``--h264``) and run through the ``vision_onnx`` pipeline with the
default model (``data/models/``, built by ``python -m
plugins.vision_onnx.default_model``) on the CPU, at its default score threshold
(0.5). Detections are matched to the truth boxes by
:mod:`plugins.traffic_sim.scoring`: IoU >= 0.5, vehicles (car, truck, bus,
motorcycle) and people as two groups, objects counted when at least 40 px tall
(both groups), objects of which the picture shows less than half (hidden by nearer ones, or
outside the frame) ignored.

Each frame is scored with the detector's tiling (``--tiles``, by default
``auto``, the plugin's default: 1280x720 is run whole and as 3 x 2 overlapping
tiles) and, on the same frames, with a baseline tiling (``--baseline-tiles``,
by default ``off``: the whole frame only).

One seed's scenes of a layout share its background traffic, so the same far
truck or motorcycle is counted in several of them; ``--seed`` with several seeds
scores each scenario once per seed (the rows carry their seed; totals and the
by-class tally pool them), for figures that rest on more actors.

Target: recall >= 0.8 for vehicles and for people, by day and by night. The last
line is JSON: ``rows`` (scenario, night, frames, per group: counted, recall,
precision), ``totals`` per lighting, ``render_ms`` and ``detect_ms`` per frame,
all for ``--tiles``; ``baseline`` (``tiles``, ``totals``, ``detect_ms``).
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


def run_one(models: dict[str, OnnxModel], scenario: str, night: bool, seed: int, args) -> tuple[dict[str, tuple[Score, Score, float]], int, float, dict[str, str]]:
    """Render once; per tiling: (score from ``--min-height``, score from ``--large``, detect seconds); the
    number of frames, render seconds, and each object's class."""
    spec = RenderSpec(scenario, seed, args.width, args.height, args.fps, args.loop_seconds, night=night, label="SIM")
    t0 = time.perf_counter()
    renderer = Renderer(spec)
    classes = {o["id"]: o["class"] for o in renderer.truth_header()["objects"]}
    indices = list(range(0, spec.frames, args.every))
    rendered = [renderer.frame(i) for i in indices]
    render_s = time.perf_counter() - t0
    pixels = [p for p, _ in rendered]
    if args.h264:
        pixels = h264_round_trip(pixels, spec.width, spec.height, spec.fps)
    out = {}
    for tiling, model in models.items():
        t1 = time.perf_counter()
        detections = [model.infer([p])[0] for p in pixels]
        detect_s = time.perf_counter() - t1
        total, large = Score(), Score()
        for i, (_, objects), dets in zip(indices, rendered, detections):
            total.add(score_frame(i, objects, classes, dets, min_height=args.min_height, iou_min=args.iou))
            large.add(score_frame(i, objects, classes, dets, min_height=args.large, iou_min=args.iou))
        out[tiling] = (total, large, detect_s)
    return out, len(indices), render_s, classes


BANDS = ((40, 60), (60, 90), (90, None))  # box heights, px


def band(height: float) -> str:
    for lo, hi in BANDS:
        if height >= lo and (hi is None or height < hi):
            return f"{lo}-{hi}" if hi else f"{lo}+"
    return f"<{BANDS[0][0]}"


def by_class(tally: dict, light: str, score: Score, classes: dict[str, str]) -> None:
    """Add a scenario's counted objects to ``tally[(light, class, band)] = [counted, found]``; a motorcycle's
    rider is ``rider``, apart from people on foot."""
    for found, items in ((1, score.hits), (0, score.misses)):
        for _, oid, box in items:
            cls = "rider" if oid.endswith(".rider") else classes[oid]
            cell = tally.setdefault((light, cls, band(box[3] - box[1])), [0, 0])
            cell[0] += 1
            cell[1] += found


def tiling(value: str):
    """``auto``, ``off`` or ``CxR`` (e.g. ``2x2``) -> the ``vision_onnx`` config's ``tiles``."""
    if value in ("auto", "off"):
        return value
    cols, rows = value.lower().split("x")
    return (int(cols), int(rows))


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
    parser.add_argument("--seed", type=int, nargs="+", default=[101], help="one or more seeds (each scenario scored once per seed)")
    parser.add_argument("--resolution", default="1280x720")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--loop-seconds", type=int, default=30)
    parser.add_argument("--every", type=int, default=15, help="score every N-th frame of the loop")
    parser.add_argument("--min-height", type=float, default=40.0, help="objects counted from this height (px)")
    parser.add_argument("--large", type=float, default=90.0, help="a second count from this height (px)")
    parser.add_argument("--no-reference", action="store_true", help="skip the vtest.avi reference")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--h264", action="store_true", help="score frames after an H.264 round trip")
    parser.add_argument("--tiles", default="auto", help="the detector's tiles: auto (its default), off, or CxR such as 2x2")
    parser.add_argument("--baseline-tiles", default="off", help="a second tiling scored on the same frames; none: skip")
    parser.add_argument("--join", action="store_true", help="the detector's tile_join on (for --tiles and --baseline-tiles)")
    parser.add_argument("--model", type=Path, default=SHARED_DATA / "models" / MODEL_NAME)
    parser.add_argument("--misses", action="store_true", help="list every missed object (with --tiles)")
    parser.add_argument("--by-class", action="store_true", help="recall per class and height band (with --tiles)")
    args = parser.parse_args(argv)
    args.width, args.height = (int(v) for v in args.resolution.split("x"))
    if not args.model.is_file():
        print(f"{args.model} missing: run python -m plugins.vision_onnx.default_model", file=sys.stderr)
        return 1
    tilings = [args.tiles] + ([args.baseline_tiles] if args.baseline_tiles not in ("none", args.tiles) else [])
    models = {t: OnnxModel(Config(providers=["cpu"], threads=1, tiles=tiling(t), score_threshold=0.5, tile_join=args.join), args.model) for t in tilings}
    lightings = {"day": [False], "night": [True], "both": [False, True]}[args.lighting]
    rows: dict[str, list] = {t: [] for t in tilings}
    totals = {t: {False: Score(), True: Score()} for t in tilings}
    totals_large = {t: {False: Score(), True: Score()} for t in tilings}
    render_s, detect_s, frames = 0.0, dict.fromkeys(tilings, 0.0), 0
    class_tally: dict[tuple[str, str, str], list[int]] = {}
    big = int(args.large)
    print(f"objects >= {args.min_height:g} px tall (and, right, >= {big} px); IoU >= {args.iou}; score >= 0.5")
    print(f"{'tiles':5} {'scenario':16} {'light':5} {'frames':>6}  {'veh n':>5} {'recall':>6} {'prec':>5}  {'ppl n':>5} {'recall':>6} {'prec':>5}"
          f"  {f'veh>{big}':>8} {'recall':>6}  {f'ppl>{big}':>8} {'recall':>6}")
    for seed, scenario in ((seed, scenario) for seed in args.seed for scenario in args.scenarios):
        for night in lightings:
            per, n, rs, classes = run_one(models, scenario, night, seed, args)
            render_s, frames = render_s + rs, frames + n
            for t, (s, large, ds) in per.items():
                detect_s[t] += ds
                totals[t][night].add(s)
                totals_large[t][night].add(large)
                name = scenario if len(args.seed) == 1 else f"{scenario}/{seed}"
                print(f"{t:5} {name:16} {'night' if night else 'day':5} {n:6d}  {line(s, large)}", flush=True)
                if t == args.tiles:
                    by_class(class_tally, "night" if night else "day", s, classes)
                    for i, oid, box in s.misses if args.misses else ():
                        print(f"    missed frame {i} {oid} {box}")
                rows[t].append({"scenario": scenario, "seed": seed, "night": night, "frames": n, **figures(s, large)})
    summary: dict[str, dict] = {t: {} for t in tilings}
    for t in tilings:
        for night in lightings:
            light = "night" if night else "day"
            print(f"{t:5} {'ALL':16} {light:5} {'':6}  {line(totals[t][night], totals_large[t][night])}")
            summary[t][light] = figures(totals[t][night], totals_large[t][night])
    ms = {t: round(1000 * detect_s[t] / max(1, frames), 1) for t in tilings}
    print(f"render {1000 * render_s / max(1, frames):.0f} ms/frame; detect ms/frame (one intra-op thread): "
          + ", ".join(f"tiles {t} {v:.0f}" for t, v in ms.items()) + f"; {frames} frames")
    if args.by_class:
        print(f"tiles {args.tiles}, by class and height: counted, recall")
        for (light, cls, band), (n, found) in sorted(class_tally.items()):
            print(f"  {light:5} {cls:10} {band:>6} px {n:5d} {found / n:6.2f}")
    reference = [] if args.no_reference else real_reference(models[args.tiles], args.height, args.width)
    for tall, people, cars in reference:
        print(f"reference: vtest.avi's people at ~{tall} px tall in a {args.width}x{args.height} frame: {people} people, {cars} cars found (8 frames)")
    base = tilings[1] if len(tilings) > 1 else None
    print(json.dumps({"rows": rows[args.tiles], "totals": summary[args.tiles], "reference": reference,
                      "render_ms": round(1000 * render_s / max(1, frames), 1), "detect_ms": ms[args.tiles],
                      "baseline": None if base is None else {"tiles": base, "totals": summary[base], "detect_ms": ms[base]},
                      "resolution": args.resolution, "seed": args.seed[0], "seeds": args.seed, "min_height": args.min_height, "large": args.large,
                      "iou": args.iou, "h264": args.h264, "tiles": args.tiles,
                      "by_class": [{"light": k[0], "class": k[1], "band": k[2], "counted": v[0], "found": v[1]}
                                   for k, v in sorted(class_tally.items())] if args.by_class else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
