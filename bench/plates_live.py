"""Plate reading as the live pipeline does it: pictures of the vehicle in, the plate found, read and voted.

    .venv/bin/python bench/plates_live.py                       # no_parking_stop and free_flow, 2 seeds, 2 sizes
    .venv/bin/python bench/plates_live.py --seeds 101 --sizes 960x540 --scenarios no_parking_stop   # quicker

The simulator renders each loop (5 fps, 20 s) and encodes it to H.264; the frames are decoded as the
live path decodes them. For every vehicle with a plate, its ``--frames`` largest sightings (as the
parking rule keeps them: largest box, the truth's score being 1) are cut with the rule's margin (0.1).

**ours**: ``VehiclePlates.read`` (the plate reader's service for ``services.plates``): the plate is
found in each vehicle picture by PP-OCR's text detector, then read, voted and validated.
**baseline**: the same reader given the plate where the simulator's truth says it is, in the same
frames (a perfect plate finder): what finding the plate costs. Both against the truth, ticket-ready
when valid with confidence >= ``min_confidence`` (0.8). The vehicles include ones passing far away,
whose plates are a few pixels: those must go to manual entry. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from plugins.plate_reader.config import Config  # noqa: E402
from plugins.plate_reader.reader import PlateReader  # noqa: E402
from plugins.plate_reader.service import VehiclePlates  # noqa: E402
from plugins.traffic_sim import cache  # noqa: E402
from plugins.traffic_sim.renderer import RenderSpec  # noqa: E402
from tests.support.plate_crops import vehicle_tracks  # noqa: E402


def figures(rows: list[tuple[str, str, bool]], seconds: float) -> dict:
    n = len(rows)
    ready = [(t, r) for t, r, ok in rows if ok]
    return {
        "tracks": n,
        "accuracy": round(sum(t == r for t, r, _ in rows) / n, 4) if n else None,
        "ticket_ready": round(len(ready) / n, 4) if n else None,
        "precision": round(sum(t == r for t, r in ready) / len(ready), 4) if ready else None,
        "wrong_ticket_ready": [f"{t}->{r}" for t, r in ready if t != r],
        "ms_per_track": round(1000 * seconds / n, 1) if n else None,
    }


async def run(args) -> dict:
    config = Config()
    reader = PlateReader(config)
    reader.warm()
    service = VehiclePlates(reader)
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-plates-live-") as tmp:
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            ours, base, t_ours, t_base = [], [], 0.0, 0.0
            for scenario in args.scenarios:
                for seed in args.seeds:
                    spec = RenderSpec(scenario, seed, width=w, height=h, fps=5, loop_seconds=20)
                    rendered = cache.render(spec, Path(tmp))
                    for tr in vehicle_tracks(rendered, frames=args.frames):
                        t = time.perf_counter()
                        reading = await service.read(tr.vehicles, tr.vehicle_class)
                        t_ours += time.perf_counter() - t
                        ours.append((tr.truth, reading.text, reading.valid and not reading.reasons))
                        t = time.perf_counter()
                        read = await reader.read_track(tr.plates, tr.vehicle_class) if tr.plates else None
                        t_base += time.perf_counter() - t
                        base.append((tr.truth, read.text if read else "", bool(read and read.ticket_ready)))
            out[size] = {"ours": figures(ours, t_ours), "baseline": figures(base, t_base)}
            for who in ("ours", "baseline"):
                f = out[size][who]
                print(f"{size:9} {who:9} tracks {f['tracks']:3}  exact {f['accuracy']:.3f}  ticket-ready "
                      f"{f['ticket_ready']:.3f}  precision {f['precision']}  {f['ms_per_track']:.0f} ms/track  "
                      f"wrong-but-ready {f['wrong_ticket_ready'][:5]}")
    reader.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[101, 102])
    ap.add_argument("--scenarios", nargs="*", default=["no_parking_stop", "free_flow"])
    ap.add_argument("--sizes", nargs="*", default=["1280x720", "960x540"])
    ap.add_argument("--frames", type=int, default=4, help="sightings per vehicle (the parking rule's plate_frames)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
