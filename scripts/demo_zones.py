"""Write deploy/demo-zones/: the zone files the demo imports at its first start (``[analytics] zone_files``).

The simulated cameras' no-parking zone is the simulator's own (the yellow box
it paints; the same polygon its truth file holds), taken from the renderer's
backdrop without rendering a frame, as fractions of the picture; so are the
crime-watch scenes' watched areas (the scenario's own zones, as its truth file
holds them), and the loitering camera also gets a restricted area over the
shop fronts, restricted all day so that the demo shows its alert at any hour.
The real footage (vtest) gets a no-parking zone over the van and the car parked
at the top right of the plaza. A camera on a simulated junction (red light,
wrong way, speeding) gets the junction's zones (stop-line strip, lanes with
their direction), and the script prints the ``[plugins.etle_rules]`` signal
heads and speed lines for deploy/demo.toml. Run again after changing the simulator's street:

    PYTHONPATH=. .venv/bin/python scripts/demo_zones.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import load_file  # noqa: E402
from plugins.traffic_sim.config import Config  # noqa: E402
from plugins.traffic_sim.renderer import Renderer, RenderSpec, clip_to_picture  # noqa: E402
from plugins.traffic_sim.scenarios import SCENARIOS  # noqa: E402

DEMO = ROOT / "deploy" / "demo.toml"
OUT = ROOT / "deploy" / "demo-zones"
PARKING_SCENES = ("no_parking_stop", "delivery_stop", "queue")
CRIME_SCENES = ("loiter_night", "crowd", "running", "crossing_wait")
# the loitering scene's shop fronts on the near side, where the loiterer comes out of a doorway: a strip of
# the sidewalk along the buildings, on the ground in metres (x0, z0, x1, z1; docs/simulator.md). 1.5 m wide:
# at 1 m the loiterer's feet are in it 2 s of the loop (truth, seed 301), under the rule's 3 s, and it never fired
RESTRICTED = {"loiter_night": (-13.0, 13.0, -11.5, 23.0)}
VTEST = {"vtest": [[0.78, 0.02], [1.0, 0.02], [1.0, 0.25], [0.78, 0.25]]}  # the parked van and car


def zone_file(camera: str, zones: list[dict]) -> dict:
    return {"format": "bconnect.zones", "version": 1, "camera": camera, "zones": zones}


def no_parking(name: str, points: list[list[float]]) -> dict:
    return {"id": "no_parking", "name": name, "kind": "no_parking", "points": points}


def fractions(polygon, width: int, height: int) -> list[list[float]]:
    return [[round(min(max(x / width, 0.0), 1.0), 4), round(min(max(y / height, 0.0), 1.0), 4)] for x, y in polygon]


def _fractions(points, width: int, height: int) -> list[list[float]]:
    return [[round(min(max(x / width, 0.0), 1.0), 4), round(min(max(y / height, 0.0), 1.0), 4)] for x, y in points]


def junction_file(camera: str, truth: dict, width: int, height: int) -> dict:
    zones = []
    for z in truth["zones"]:
        zone = {"id": z["id"], "name": z["id"].replace("_", " ").capitalize(), "kind": z["kind"],
                "points": _fractions(z["polygon"], width, height)}
        if "direction" in z:
            zone["direction"] = z["direction"]
        zones.append(zone)
    return {"format": "bconnect.zones", "version": 1, "camera": camera, "zones": zones}


def etle_config(camera: str, truth: dict, width: int, height: int) -> str:
    """The camera's signal head and speed lines as deploy/demo.toml's [plugins.etle_rules] says them."""
    out = []
    if "signal_head" in truth:
        x1, y1, x2, y2 = truth["signal_head"]["box"]
        box = [round(x1 / width, 4), round(y1 / height, 4), round(x2 / width, 4), round(y2 / height, 4)]
        out.append(f'[[plugins.etle_rules.signals]]\ncamera = "{camera}"\nbox = {box}\n')
    if "calibration" in truth:
        cal = truth["calibration"]
        (a, b), (c, d) = (_fractions(line, width, height) for line in cal["lines"])
        limit = f'\nlimit_kmh = {cal["limit_kmh"]}' if "limit_kmh" in cal else ""
        out.append(
            f'[[plugins.etle_rules.speed_lines]]\ncamera = "{camera}"\n'
            f'first = [{{ x = {a[0]}, y = {a[1]} }}, {{ x = {b[0]}, y = {b[1]} }}]\n'
            f'second = [{{ x = {c[0]}, y = {c[1]} }}, {{ x = {d[0]}, y = {d[1]} }}]\n'
            f'distance_m = {cal["distance_m"]}{limit}\n'
        )
    return "\n".join(out)


def main() -> None:
    cfg = Config.model_validate(load_file(DEMO).deployment.plugins["traffic_sim"])
    width, height = cfg.size
    OUT.mkdir(exist_ok=True)
    files = {}
    for cam in cfg.cameras:
        if SCENARIOS[cam.scenario].junction is not None:
            spec = RenderSpec(cam.scenario, cam.seed, width=width, height=height, fps=cfg.fps, loop_seconds=cfg.loop_seconds)
            truth = Renderer(spec).truth_header()
            files[cam.id] = junction_file(cam.id, truth, width, height)
            print(etle_config(cam.id, truth, width, height))
            continue
        if cam.scenario not in PARKING_SCENES + CRIME_SCENES:
            continue
        spec = RenderSpec(cam.scenario, cam.seed, width=width, height=height, fps=cfg.fps, loop_seconds=cfg.loop_seconds)
        renderer = Renderer(spec)
        if cam.scenario in PARKING_SCENES:
            zones = [no_parking("No parking (yellow box)", fractions(renderer.backdrop.zone_polygon, width, height))]
        else:
            zones = [
                {"id": z["id"], "name": "Watched area", "kind": z["kind"], "points": fractions(z["polygon"], width, height)}
                for z in renderer.truth_header()["zones"] if z["kind"] == "watched_area"
            ]
            if cam.scenario in RESTRICTED:
                x0, z0, x1, z1 = RESTRICTED[cam.scenario]
                ground = np.array([(x0, 0.0, z0), (x1, 0.0, z0), (x1, 0.0, z1), (x0, 0.0, z1)])
                polygon = clip_to_picture(renderer.view.polygon(ground) or [], width, height)
                zones.append({"id": "shopfronts", "name": "Shop fronts (restricted, all day in the demo)",
                              "kind": "restricted_area", "points": fractions(polygon, width, height),
                              "windows": ["00:00-24:00"]})
        files[cam.id] = zone_file(cam.id, zones)
    for camera, points in VTEST.items():
        files[camera] = zone_file(camera, [no_parking("No parking: kerb of the plaza", points)])
    for camera, doc in files.items():
        (OUT / f"{camera}.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(OUT / f"{camera}.json")


if __name__ == "__main__":
    main()
