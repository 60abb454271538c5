"""``bconnect sim-render``: render every simulated camera's loop before the server starts.

The server renders what is not cached when it starts, one camera at a time at a
low priority, and a camera shows only once its loop is ready: on a small machine
the first start of the demo then spends minutes drawing while the analytics
starve. ``make run`` calls this first: the loops not cached are rendered in
parallel (one process each, ``--workers`` at a time, by default one per core),
a line per camera, and the server that follows finds them all cached.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from core.interfaces import Command
from plugins.traffic_sim import cache
from plugins.traffic_sim.sub_stream import write_sub_stream


def _render(spec, sim_dir, sub: tuple[int, int] | None = None) -> float:
    os.nice(5)  # whatever else runs on the machine comes first
    started = time.monotonic()
    result = cache.render(spec, sim_dir)
    if sub is not None:  # the camera's sub stream: its loop scaled down
        write_sub_stream(result.video, sub[0], sub[1], spec.fps, spec.keyframe_seconds)
    return time.monotonic() - started


def render_all(plugin: Any, workers: int, say=print) -> int:
    """Render ``plugin``'s cameras not cached yet; returns how many failed."""
    todo = {cam: spec for cam, spec in plugin.specs.items() if not plugin.ready(cam)}
    for cam in plugin.specs:
        if cam not in todo:
            say(f"camera {cam}: cached")
    if not todo:
        return 0
    say(f"rendering {len(todo)} simulated camera loop(s), {workers} at a time, into {plugin.sim_dir} ...")
    started, failed = time.monotonic(), 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_render, spec, plugin.sim_dir, plugin.sub_sizes.get(cam)): cam for cam, spec in todo.items()}
        for done in as_completed(futures):
            cam = futures[done]
            try:
                seconds = done.result()
            except Exception as exc:
                failed += 1
                say(f"camera {cam}: render failed: {type(exc).__name__}: {exc}")
            else:
                say(f"camera {cam}: rendered in {seconds:.0f} s")
    say(f"{len(todo) - failed} rendered, {failed} failed, in {time.monotonic() - started:.0f} s")
    return failed


def command(plugin: Any) -> Command:
    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="renders at a time (default: one per core)")

    def run(args: argparse.Namespace, cfg: Any) -> int:
        if args.workers < 1:
            print("--workers must be 1 or more")
            return 2
        return 1 if render_all(plugin, args.workers) else 0

    return Command("sim-render", "render the simulated cameras' loops now (the server then finds them cached)", configure, run)
