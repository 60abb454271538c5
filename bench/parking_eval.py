"""Parking rule evaluation on the simulator's scenarios: precision, recall and time to alert.

    .venv/bin/python bench/parking_eval.py                       # 960x540, 5 fps, 30 s loops, 3 loops each
    .venv/bin/python bench/parking_eval.py --threshold 10 --loops 2 --size 480x270
    .venv/bin/python bench/parking_eval.py --detectors truth         # the truth detector only (no model)

The start of the issue's ``bench/analytics_eval.py``: each scenario is rendered
by the simulator (cached under ``bench/out/sim/``), its truth replayed by the
truth detector (``plugins/truth_detector``: the rule apart from the detector's
misses), tracked by ``core.analytics.tracker`` and judged by the parking rule
with the scenario's no-parking zone and the given threshold, all hours; then
again with the default detector (``vision_onnx``'s model, on CPU) on the
rendered video's decoded frames (RGB, as the core hands them), each frame
detected once (the loops repeat the file, so their detections are reused).
Due violations are the truth's ``no_parking_stop`` events at least as long as
the threshold, at their start plus the threshold; an alert within 3 s of one
is a hit. Time to alert is the alert's stream time minus the due time
(negative: the tracker called the car still before it fully stopped).

One row per scenario and detector, then one JSON line: ``{"rows": [{"detector", "scenario", "due",
"alerts", "tp", "fp", "fn", "precision", "recall", "tta_mean_s", "tta_max_s",
"seconds"}, ...]}``.
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

from plugins.traffic_sim import cache  # noqa: E402
from plugins.traffic_sim.renderer import RenderSpec  # noqa: E402
from support import parking_pipeline as pipeline  # noqa: E402

SCENARIOS = ("no_parking_stop", "delivery_stop", "queue", "free_flow", "collision")


def default_detector(truth: Path):
    """``detect(i, t)`` over the rendered video's frames with the default model; each frame detected once."""
    import av

    from plugins.truth_detector.replay import TruthReplay
    from plugins.vision_onnx import default_model as dm
    from plugins.vision_onnx.config import Config
    from plugins.vision_onnx.model import OnnxModel

    model = OnnxModel(Config(providers=["cpu"]), dm.build())
    with av.open(str(truth.with_name(TruthReplay.load(truth).doc["video"]))) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    found: dict[int, list] = {}

    def detect(i: int, t: float) -> list:
        k = i % len(pictures)
        if k not in found:
            found[k] = model.infer([pictures[k]])[0]
        return found[k]

    return detect


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--threshold", type=float, default=10.0, help="dwell threshold, s (the sim's car stands ~19 s)")
    ap.add_argument("--loops", type=int, default=3)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--fps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--sim-dir", default=str(REPO / "bench" / "out" / "sim"))
    ap.add_argument("--detectors", default="truth,default", help="truth, default, or both")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    print(f"{'detector':<8} {'scenario':<16} {'due':>4} {'alerts':>6} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>6} "
          f"{'tta mean s':>10} {'tta max s':>9}")
    for detector, name in [(d, n) for d in args.detectors.split(",") for n in args.scenarios.split(",")]:
        spec = RenderSpec(name, args.seed, width=width, height=height, fps=args.fps, loop_seconds=30)
        truth = cache.render(spec, Path(args.sim_dir)).truth
        started = time.perf_counter()
        detect = default_detector(truth) if detector == "default" else None
        result = pipeline.run(truth, args.threshold, loops=args.loops, fps=args.fps, detect=detect)
        got = pipeline.score(result)
        delays = got.delays_s
        row = {
            "detector": detector,
            "scenario": name, "due": len(result.expected), "alerts": len(result.violations),
            "tp": got.true_positives, "fp": got.false_positives, "fn": got.false_negatives,
            "precision": round(got.precision, 3), "recall": round(got.recall, 3),
            "tta_mean_s": round(sum(delays) / len(delays), 2) if delays else None,
            "tta_max_s": round(max(delays), 2) if delays else None,
            "seconds": round(time.perf_counter() - started, 2),
        }
        rows.append(row)
        tta = "-" if row["tta_mean_s"] is None else f"{row['tta_mean_s']:+.2f}"
        ttm = "-" if row["tta_max_s"] is None else f"{row['tta_max_s']:+.2f}"
        print(f"{detector:<8} {name:<16} {row['due']:>4} {row['alerts']:>6} {row['tp']:>3} {row['fp']:>3} {row['fn']:>3} "
              f"{row['precision']:>9.3f} {row['recall']:>6.3f} {tta:>10} {ttm:>9}")
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
