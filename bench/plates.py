"""Plate-reader benchmark: exact-match accuracy, precision of ticket-ready reads, share sent to manual
entry and time per read; the plate reader against a single-frame baseline, in the same run.

    .venv/bin/python bench/plates.py                         # 96 art tracks, 2 simulated loops
    .venv/bin/python bench/plates.py --art 24 --seeds 101    # quicker

Truth comes from the traffic simulator (``tests/support/plate_crops.py``):

- **art**: the simulator's plate art, 32-120 px wide, blurred 0-1.5 px, tilted, with noise and
  JPEG loss, 5 frames per track;
- **scene**: frames of simulated loops (1280x720, every 3rd frame), the plate cut where the
  truth's ``plate_bbox`` says; the truth ignores occlusion, so some plates are half hidden
  (those must go to manual entry);
- **licenseplate_motion.jpg** (Debian's opencv-doc; a US plate, so never a valid TNKB), as shot and
  after the OpenCV sample's own Wiener deconvolution.

**ours**: ``PlateReader.read_track`` (text detection, letters-and-digits decoding, TNKB fix-ups,
voting over the track's frames, validation, ``min_confidence``). **baseline**: RapidOCR's own
pipeline (detector, then recogniser over its full alphabet; the same sessions, settings and crop
scaling as ours) on the track's first (largest) crop only, normalised, no fix-ups, no voting;
ticket-ready when it parses as a valid TNKB and RapidOCR's score >= ``min_confidence``.
The last line is one JSON object: ``{"sets": {"art"|"scene": {"tracks", "ours": {...},
"baseline": {...}}}, "licenseplate_motion": {...}}``; each of ``ours``/``baseline`` has
``accuracy``, ``ticket_ready``, ``precision``, ``manual``, ``wrong_ticket_ready``, ``ms_per_track``,
``ms_per_frame``; ``ours`` also ``by_min_confidence`` (ticket-ready share and precision at other
thresholds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from plugins.plate_reader.config import Config  # noqa: E402
from plugins.plate_reader.ocr import _prepare  # noqa: E402
from plugins.plate_reader.reader import PlateReader  # noqa: E402
from plugins.plate_reader.tnkb import normalise, parse, problems  # noqa: E402
from tests.support.plate_crops import art_track, licenseplate_motion, scene_tracks  # noqa: E402

WIDTHS = (32, 48, 72, 120)
BLURS = (0.0, 0.8, 1.5)
TILTS = (0.0, 0.5)


def baseline(engine, crop: np.ndarray, config: Config) -> tuple[str, bool]:
    result, _ = engine(_prepare(crop), use_cls=False)
    if not result:
        return "", False
    text = normalise("".join(r[1] for r in result))
    score = min(float(r[2]) for r in result)
    plate = parse(text)
    ok = plate is not None and not problems(plate, config.rules()) and score >= config.min_confidence
    return text, ok


def figures(rows: list[tuple[str, str, bool]], ms: float, frames: float) -> dict:
    """rows: (truth, text, ticket_ready)."""
    n = len(rows)
    right = sum(t == r for t, r, _ in rows)
    ready = [(t, r) for t, r, ok in rows if ok]
    return {
        "accuracy": round(right / n, 4) if n else None,
        "ticket_ready": round(len(ready) / n, 4) if n else None,
        "precision": round(sum(t == r for t, r in ready) / len(ready), 4) if ready else None,
        "manual": round(1 - len(ready) / n, 4) if n else None,
        "wrong_ticket_ready": [f"{t}->{r}" for t, r in ready if t != r],
        "ms_per_track": round(ms, 1),
        "ms_per_frame": round(ms / frames, 1) if frames else None,
    }


THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def sweep(reads: list[tuple[str, object]]) -> dict:
    """Ticket-ready share and precision if ``min_confidence`` were each of THRESHOLDS."""
    out = {}
    for th in THRESHOLDS:
        ready = [truth == r.text for truth, r in reads if r.valid and r.confidence >= th]
        out[str(th)] = {"ticket_ready": round(len(ready) / max(1, len(reads)), 3),
                        "precision": round(sum(ready) / len(ready), 4) if ready else None}
    return out


def run_set(name: str, tracks, reader: PlateReader, engine, config: Config) -> dict:
    ours, base, kept = [], [], []
    t_ours = t_base = 0.0
    frames = 0
    for tr in tracks:
        t = time.perf_counter()
        read = reader.read_track_blocking(tr.crops, tr.vehicle_class)
        t_ours += time.perf_counter() - t
        frames += min(len(tr.crops), config.max_frames)
        ours.append((tr.truth, read.text, read.ticket_ready))
        kept.append((tr.truth, read))
        t = time.perf_counter()
        text, ok = baseline(engine, tr.crops[0], config)
        t_base += time.perf_counter() - t
        base.append((tr.truth, text, ok))
    n = max(1, len(tracks))
    out = {
        "tracks": len(tracks),
        "frames_per_track": round(frames / n, 1),
        "ours": figures(ours, 1000 * t_ours / n, frames / n),
        "baseline": figures(base, 1000 * t_base / n, 1),
    }
    out["ours"]["by_min_confidence"] = sweep(kept)
    for who in ("ours", "baseline"):
        f = out[who]
        print(
            f"{name:6} {who:9} tracks {len(tracks):4}  exact {f['accuracy']:.3f}  ticket-ready {f['ticket_ready']:.3f}"
            f"  precision {f['precision'] if f['precision'] is not None else '-'}  manual {f['manual']:.3f}"
            f"  {f['ms_per_track']:.0f} ms/track ({f['ms_per_frame']:.0f} ms/frame)  wrong-but-ready {f['wrong_ticket_ready'][:5]}"
        )
    print(f"{name:6} ours by min_confidence: " + "  ".join(
        f"{th}: ready {v['ticket_ready']:.2f} precision {v['precision']}" for th, v in out["ours"]["by_min_confidence"].items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--art", type=int, default=96, help="art tracks (spread over sizes, blurs, tilts)")
    ap.add_argument("--frames", type=int, default=5, help="frames per art track")
    ap.add_argument("--seeds", type=int, nargs="*", default=[101, 102], help="simulated loops (no_parking_stop)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    config = Config()
    reader = PlateReader(config)
    reader.warm()
    engine = reader._executor().submit(reader._ocr).result().engine  # the same sessions and settings
    rng = np.random.default_rng(args.seed)
    grid = [(w, b, t) for w in WIDTHS for b in BLURS for t in TILTS]
    art = [art_track(rng, *grid[i % len(grid)], frames=args.frames) for i in range(args.art)]
    result = {"sets": {}}
    result["sets"]["art"] = run_set("art", art, reader, engine, config)
    by_width = {}
    for w in WIDTHS:
        sub = [tr for tr in art if tr.note.startswith(f"w{w} ")]
        if sub:
            reads = [reader.read_track_blocking(tr.crops, tr.vehicle_class) for tr in sub]
            by_width[w] = round(sum(r.text == tr.truth for r, tr in zip(reads, sub)) / len(sub), 3)
    print(f"art exact-match by plate width (px): {by_width}")
    result["sets"]["art"]["ours"]["accuracy_by_width"] = by_width
    if args.seeds:
        scene = [tr for s in args.seeds for tr in scene_tracks(s, scenario="no_parking_stop")]
        result["sets"]["scene"] = run_set("scene", scene, reader, engine, config)

    lp = {}
    for label, deblur in (("as_shot", False), ("deblurred", True)):
        read = reader.read_track_blocking([licenseplate_motion(deblur)])
        lp[label] = {
            "raw": read.raw,
            "text": read.text,
            "confidence": read.confidence,
            "valid": read.valid,
            "manual": read.needs_manual_entry,
            "reasons": list(read.reasons),
        }
        print(f"licenseplate_motion.jpg {label}: {lp[label]}")
    result["licenseplate_motion"] = lp
    print(json.dumps(result))


if __name__ == "__main__":
    main()
