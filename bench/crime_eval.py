"""Crime watch on the simulator's scenarios: alerts against the truth, with the truth detector and the default one.

    .venv/bin/python bench/crime_eval.py                           # 960x540, 5 fps, 30 s loops, 2 loops each
    .venv/bin/python bench/crime_eval.py --size 480x270 --detectors truth --seed 102

Each scenario is rendered by the simulator (cached under ``bench/out/sim/``),
its truth replayed as detections (``tests/support/crime_pipeline.py``: the rule
apart from the detector's misses), tracked by ``core.analytics.tracker`` and
judged by crime watch with the zones the truth file holds and thresholds for
30 s loops (loitering 20 s, crowd 3 s); then again with the default detector
(``vision_onnx``'s model, on CPU, as ``bench/parking_eval.py`` runs it) on the
rendered video's decoded frames. Due alerts and tolerances: docs/rules.md
("For the evaluation"). One row per detector and scenario, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from parking_eval import default_detector  # noqa: E402
from support import crime_pipeline as pipeline  # noqa: E402

from plugins.traffic_sim import cache  # noqa: E402
from plugins.traffic_sim.renderer import RenderSpec  # noqa: E402

SCENARIOS = ("loiter_night", "crowd", "running", "crossing_wait", "free_flow")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--loops", type=int, default=2)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--sim-dir", default=str(REPO / "bench" / "out" / "sim"))
    ap.add_argument("--detectors", default="truth,default", help="truth, default, or both")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    print(f"{'detector':<8} {'scenario':<14} {'due':>4} {'alerts':>6} {'tp':>3} {'fp':>3} {'fn':>3} {'delays s':<22} seconds")
    for name in args.scenarios.split(","):
        spec = RenderSpec(name, args.seed, width=width, height=height, fps=5, loop_seconds=30)
        truth = cache.render(spec, Path(args.sim_dir)).truth
        for detector in args.detectors.split(","):
            started = time.monotonic()
            detect = default_detector(truth) if detector == "default" else None
            result = pipeline.run(truth, loops=args.loops, detect=detect)
            got = pipeline.score(result)
            row = {
                "detector": detector, "scenario": name, "seed": args.seed, "due": len(result.expected),
                "alerts": len(result.alerts), "tp": got.true_positives, "fp": got.false_positives,
                "fn": got.false_negatives, "delays_s": list(got.delays_s),
                "kinds": sorted({a.kind for a in result.alerts}), "seconds": round(time.monotonic() - started, 1),
            }
            rows.append(row)
            print(f"{detector:<8} {name:<14} {row['due']:>4} {row['alerts']:>6} {row['tp']:>3} {row['fp']:>3} {row['fn']:>3} "
                  f"{str(row['delays_s']):<22} {row['seconds']}", flush=True)
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
