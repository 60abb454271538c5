"""``bconnect cameras list [--config FILE] [--json]``: the deployment's cameras.

Asks every enabled driver for its cameras, as the server would at start-up,
without starting it (no database, no stream is opened; a driver such as ONVIF
does talk to its devices, each bounded by its timeout). Prints one line per
camera: id, agency, area, driver, capabilities and number of presets. No URL
and no credential is ever printed. A driver that fails is named on stderr and
the exit status is 1; the other drivers' cameras are still listed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from core.areas import check_camera_areas
from core.interfaces import CameraDriver, CameraInfo

DEFAULT_CONFIG = "plugins.toml"  # as for ``bconnect serve``
DRIVER_TIMEOUT_S = 30.0
COLUMNS = ("id", "agency", "area", "driver", "capabilities", "presets")


def add_parser(sub, load: Callable[..., Any]) -> None:
    p = sub.add_parser("cameras", help="the deployment's cameras")
    cameras_sub = p.add_subparsers(dest="cameras_command", required=True, metavar="COMMAND")
    c = cameras_sub.add_parser("list", help="list the cameras the enabled drivers offer (starts no server)")
    c.add_argument("--config", default=DEFAULT_CONFIG, help="deployment file (default: %(default)s)")
    c.add_argument("--json", action="store_true", help="print a JSON list")
    c.set_defaults(func=lambda args: cmd_list(args, load))


def cmd_list(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.logs import setup_logging
    from core.plugin_host import load_plugins

    setup_logging("ERROR", json_logs=False)  # problems are printed below, once; stdout stays clean
    cfg = load(args.config)
    host = load_plugins(cfg)
    cameras, problems = asyncio.run(list_cameras(host))
    problems += check_camera_areas(cfg.deployment, [cam for cam, _ in cameras])
    rows = [row(cam) for cam, _ in cameras]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(rows))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


async def list_cameras(host, timeout_s: float = DRIVER_TIMEOUT_S) -> tuple[list[tuple[CameraInfo, str]], list[str]]:
    """Every driver's cameras as ``(camera, plugin)``, and one line per problem."""
    problems: list[str] = []
    drivers = []
    for plugin, driver in host.collect("bconnect_register_camera_drivers"):
        if isinstance(driver, CameraDriver):
            drivers.append((plugin, driver))
        else:
            problems.append(f"plugin {plugin}: registered something that is not a camera driver")

    async def one(plugin: str, driver: Any) -> list[CameraInfo]:
        try:
            return list(await asyncio.wait_for(driver.cameras(), timeout_s))
        except asyncio.TimeoutError:
            problems.append(f"driver {driver.name} (plugin {plugin}): no cameras within {timeout_s:g} s")
        except Exception as exc:
            problems.append(f"driver {driver.name} (plugin {plugin}): {type(exc).__name__}: {exc}")
        finally:
            close = getattr(driver, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as exc:  # listing still stands
                    problems.append(f"driver {driver.name} (plugin {plugin}): close failed: {exc}")
        return []

    listings = await asyncio.gather(*(one(p, d) for p, d in drivers))
    out: list[tuple[CameraInfo, str]] = []
    seen: dict[str, str] = {}
    for (plugin, _), cameras in zip(drivers, listings):
        for cam in cameras:
            if cam.id in seen:
                problems.append(f"camera {cam.id!r} offered by {seen[cam.id]} and by {plugin}; the second is ignored")
                continue
            seen[cam.id] = plugin
            out.append((cam, plugin))
    # drivers may also report problems of their own (e.g. an unreachable device)
    for plugin, driver in drivers:
        for cam_id, reason in sorted(getattr(driver, "problems", {}).items()):
            problems.append(f"camera {cam_id!r} ({driver.name}): {reason}")
    return out, problems


def row(cam: CameraInfo) -> dict[str, Any]:
    public = cam.public()
    return {column: public[column] for column in COLUMNS}


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[c.upper() for c in COLUMNS]]
    for r in rows:
        cells.append([r["id"], r["agency"], r["area"] or "-", r["driver"], ",".join(r["capabilities"]) or "-", str(r["presets"])])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in cells]
    lines.append(f"{len(rows)} cameras")
    return "\n".join(lines)
