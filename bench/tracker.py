"""Tracker benchmark: time per update and id switches, B-Connect's tracker against a naive IoU tracker.

    .venv/bin/python bench/tracker.py                  # 5, 20, 50 and 100 objects, 3 seeds each
    .venv/bin/python bench/tracker.py --objects 40 --seeds 1

Both trackers get the same synthetic scenes (``tests/support/tracking_scenes.py``:
lanes both ways, parked cars, people crossing; 20 s at 5 fps; jitter, misses,
half-hidden objects scoring low, label flicker, false positives) in the same
run, one after the other, in this process. The baseline gives each confident
detection the id of last frame's box it overlaps most (IoU >= 0.3), greedily:
no motion model, no memory of lost objects, no low-score stage.

Printed per scene size: visible objects and detections per frame, mean and
p99 CPU microseconds per ``update`` (this thread's CPU time, so that other
work on a shared machine does not count; the clock ticks in whole
microseconds at best) (detections in, confirmed tracks out), id
switches and MOTA (CLEAR-MOT, truth = objects at least half visible). The last
line is one JSON object: ``{"rows": [{"objects", "tracks_per_frame",
"detections_per_frame", "ours_us", "ours_p99_us", "naive_us", "naive_p99_us",
"ours_id_switches", "naive_id_switches", "ours_mota", "naive_mota"}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from core.analytics.tracker import Tracker  # noqa: E402
from support.tracking_scenes import NaiveIouTracker, score, traffic  # noqa: E402


def timed(tracker, frames) -> tuple[list, list[float]]:
    outputs, times = [], []
    for frame in frames:
        t0 = time.thread_time_ns()
        outputs.append(tracker.update(frame.detections, frame.t))
        times.append((time.thread_time_ns() - t0) / 1000)
    return outputs, times


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    rows = []
    print(f"{'objects':>7} {'tracks/f':>8} {'dets/f':>6} | {'ours us':>8} {'p99':>7} {'idsw':>5} {'MOTA':>6} |"
          f" {'naive us':>8} {'p99':>7} {'idsw':>5} {'MOTA':>6}")
    for objects in args.objects:
        ours_t, naive_t, ours_sw, naive_sw, ours_m, naive_m, truth, dets = [], [], 0, 0, [], [], [], []
        for seed in range(args.seeds):
            frames = traffic(objects, seed=seed, seconds=args.seconds).frames(seed)
            truth += [len(f.visibility) for f in frames]
            dets += [len(f.detections) for f in frames]
            out, times = timed(Tracker(), frames)
            ours_t += times
            counts = score(frames, out)
            ours_sw += counts.id_switches
            ours_m.append(counts.mota)
            out, times = timed(NaiveIouTracker(), frames)
            naive_t += times
            counts = score(frames, out)
            naive_sw += counts.id_switches
            naive_m.append(counts.mota)
        row = {
            "objects": objects,
            "tracks_per_frame": round(statistics.mean(truth), 1),
            "detections_per_frame": round(statistics.mean(dets), 1),
            "ours_us": round(statistics.mean(ours_t), 1),
            "ours_p99_us": round(p99(ours_t), 1),
            "naive_us": round(statistics.mean(naive_t), 1),
            "naive_p99_us": round(p99(naive_t), 1),
            "ours_id_switches": ours_sw,
            "naive_id_switches": naive_sw,
            "ours_mota": round(statistics.mean(ours_m), 3),
            "naive_mota": round(statistics.mean(naive_m), 3),
        }
        rows.append(row)
        print(f"{objects:>7} {row['tracks_per_frame']:>8} {row['detections_per_frame']:>6} |"
              f" {row['ours_us']:>8} {row['ours_p99_us']:>7} {ours_sw:>5} {row['ours_mota']:>6} |"
              f" {row['naive_us']:>8} {row['naive_p99_us']:>7} {naive_sw:>5} {row['naive_mota']:>6}")
    print(f"({args.seeds} seeds x {args.seconds:g} s at 5 fps per row; id switches summed over the seeds)")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
