"""The simulator's people against photographed people in the same places: is the figure or the size the limit?

    .venv/bin/python bench/sim_people_real.py                     # eight scenarios with people, day and night
    .venv/bin/python bench/sim_people_real.py --scenarios crowd --seeds 101 --every 5

Issue 9 asks for a person recall of 0.8 from 40 px tall. This bench separates the two reasons a
simulated person may be missed: the person is not person-like enough, or a person of that size in that
place is beyond the model. Each scenario is rendered with its people only (vehicles left out, so that
nothing hides anyone), and the same frame is made a second time: the empty street (the renderer's
backdrop, through the same camera exposure) with a **real walking person** pasted over each counted
person's truth box (feet on the box's bottom centre, scaled to its height), chosen at random among the
walkers cut out of Debian's ``vtest.avi`` (:mod:`plugins.traffic_sim.photo_people`). By night a cut is
darkened by how much darker the night backdrop is than the day one around its box (lamps included).

Since renderer 11 the simulator's own people are those walkers too (a walker per person, stepping at
its pace, lit by the scene's lamps); ``BCONNECT_SIM_PEOPLE=drawn`` renders the drawn figures instead,
for the comparison this bench was made for.

Both pictures go through the ``vision_onnx`` pipeline with the default model on the CPU, at its
defaults but for a sure box's threshold (0.5, as ``bench/sim_recall.py``; tiles "auto"). A person counts when its box is at least 40 px tall and at
least 90 % in sight and in the picture (the truth's ``visible`` times ``in_frame``; riders aside: no real rider to paste); a hit is a person detection with IoU
>= 0.5, paired greedily by score, each detection used once (as ``plugins.traffic_sim.scoring``). Printed: recall of the simulator's figures (the baseline) and of the real people, per height
band, by day and by night. The last line is JSON (``rows``: light, band, counted, sim_recall,
real_recall).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import final  # noqa: E402
from sim_recall import tiling  # noqa: E402

from core.analytics.assignment import iou  # noqa: E402
from plugins.traffic_sim import photo_people  # noqa: E402
from plugins.traffic_sim.renderer import Renderer, RenderSpec  # noqa: E402
from plugins.vision_onnx import default_model as dm  # noqa: E402
from plugins.vision_onnx.config import Config  # noqa: E402
from plugins.vision_onnx.model import OnnxModel  # noqa: E402

SCENARIOS = ("crowd", "free_flow", "running", "loiter_night", "crossing_wait", "no_parking_stop", "bus_stop", "queue")
BANDS = ((40, 60), (60, 90), (90, 10_000), (40, 10_000))
Box = tuple[float, float, float, float]


def real_people(every: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    """Walking people cut out of vtest.avi (the simulator's own walkers, every ``every``-th step): (RGB, alpha 0-1)."""
    walkers = photo_people.bank()
    if walkers is None:
        raise SystemExit("vtest.avi not found: install Debian's opencv-doc (make setup does)")
    return [(w.rgb[k], w.alpha[k].astype(np.float32) / 255.0) for w in walkers.walkers for k in range(0, len(w.rgb), every)]


def paste(image: np.ndarray, cut: tuple[np.ndarray, np.ndarray], box: Box, gain: float) -> Box | None:
    """Paste a cut with its feet on the box's bottom centre, as tall as the box; the pasted box."""
    import cv2

    rgb, alpha = cut
    height = int(round(box[3] - box[1]))
    width = max(2, int(round(alpha.shape[1] * height / alpha.shape[0])))
    pixels = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) * gain
    mask = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_AREA)[..., None]
    x0, y0 = int(round((box[0] + box[2]) / 2 - width / 2)), int(round(box[3])) - height
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + width, image.shape[1]), min(y0 + height, image.shape[0])
    if xb <= xa or yb <= ya:
        return None
    m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0]
    image[ya:yb, xa:xb] = image[ya:yb, xa:xb] * (1 - m) + pixels[ya - y0 : yb - y0, xa - x0 : xb - x0] * m
    return (x0, y0, x0 + width, y0 + height)


def hits(detections, boxes: list[Box | None]) -> list[bool]:
    """Which boxes a person detection finds (IoU >= 0.5), paired greedily by score, each detection used once."""
    people = sorted((d for d in detections if d.label == "person"), key=lambda d: -d.score)
    found = [False] * len(boxes)
    for d in people:
        best, at = 0.5, None
        for k, box in enumerate(boxes):
            if box is not None and not found[k] and iou(d.box, box) >= best:
                best, at = iou(d.box, box), k
        if at is not None:
            found[at] = True
    return found


def compare(model: OnnxModel, cuts, seeds, scenarios, every: int) -> dict[tuple[str, tuple[int, int]], list[int]]:
    """(light, height band) -> [counted, found drawn, found photographed] over the scenes' frames."""
    rng = np.random.default_rng(seeds)
    tally: dict[tuple[str, tuple[int, int]], list[int]] = {}  # counted, sim found, real found
    for seed, scenario in ((s, n) for s in seeds for n in scenarios):
        day_backdrop = None
        for night in (False, True):
            renderer = Renderer(RenderSpec(scenario, seed, 1280, 720, 5, 30, night=night, label="SIM"))
            renderer.world.actors = [a for a in renderer.world.actors if a.kind == "person"]
            backdrop = np.asarray(renderer.backdrop.image).astype(np.float32)
            day_backdrop = backdrop if not night else day_backdrop
            for i in range(0, renderer.spec.frames, every):
                pixels, objects = renderer.frame(i)
                boxes = [
                    tuple(o["bbox"]) for o in objects
                    if "riding" not in o and ".rider" not in o["id"] and o.get("visible", 1.0) * o.get("in_frame", 1.0) >= 0.9
                    and o["bbox"][3] - o["bbox"][1] >= 40
                ]
                if not boxes:
                    continue
                street = backdrop.copy()
                pasted = []
                for box in boxes:
                    x1, y1, x2, y2 = (int(v) for v in box)
                    gain = 1.0
                    if night and day_backdrop is not None:
                        gain = float(backdrop[y1:y2, x1:x2].mean() / max(day_backdrop[y1:y2, x1:x2].mean(), 1.0))
                    pasted.append(paste(street, cuts[int(rng.integers(len(cuts)))], box, gain))
                real = renderer.camera.expose(np.clip(street, 0, 255).astype(np.uint8), i)
                sim_found, real_found = model.infer([pixels, real])
                for box, sim_hit, real_hit in zip(boxes, hits(sim_found, boxes), hits(real_found, pasted)):
                    tall = box[3] - box[1]
                    for band in BANDS:
                        if band[0] <= tall < band[1]:
                            t = tally.setdefault(("night" if night else "day", band), [0, 0, 0])
                            t[0] += 1
                            t[1] += sim_hit
                            t[2] += real_hit
    return tally


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 202, 303], help="scenes of several seeds: a seed's scenarios share their pedestrians")
    ap.add_argument("--every", type=int, default=15, help="every n-th frame of the 30 s loop at 5 fps")
    ap.add_argument("--model", type=Path, default=None, help="an ONNX detector (default: the default model)")
    ap.add_argument("--tiles", default="auto", help="the detector's tiles: auto, off, or CxR such as 3x2")
    ap.add_argument("--join", action="store_true", help="the detector's tile_join on")
    args = ap.parse_args()

    config = Config(providers=["cpu"], threads=1, score_threshold=0.5, tiles=tiling(args.tiles), tile_join=args.join)  # a sure box, as sim_recall
    model = OnnxModel(config, args.model or dm.build())
    cuts = real_people()
    print(f"{len(cuts)} people cut out of vtest.avi; scenarios: {' '.join(args.scenarios)}")
    tally = compare(model, cuts, args.seeds, args.scenarios, args.every)
    rows = []
    print(f"{'light':6s} {'height px':>10s} {'counted':>8s} {'sim figures':>12s} {'real people':>12s}")
    for (light, (lo, hi)), (n, sim, real) in sorted(tally.items(), key=lambda kv: (kv[0][0], kv[0][1] == BANDS[-1], kv[0][1])):
        band = f"{lo}+" if hi >= 10_000 else f"{lo}-{hi}"
        print(f"{light:6s} {band:>10s} {n:8d} {sim / n:12.2f} {real / n:12.2f}")
        rows.append({"light": light, "band": band, "counted": n, "sim_recall": round(sim / n, 3), "real_recall": round(real / n, 3)})
    final({"rows": rows, "cuts": len(cuts), "scenarios": args.scenarios, "every": args.every, "seeds": args.seeds,
           "model": model.path.name, "tiles": args.tiles, "join": args.join})


if __name__ == "__main__":
    main()
