"""Render one loop in a process of its own: ``python -m plugins.traffic_sim.render_job DIR SPEC_JSON [SUB_WxH]``.

The server starts one of these per camera that is not cached yet, so drawing
and encoding neither hold the server's GIL nor compete with it at the same
priority. With ``SUB_WxH`` it then writes the loop's sub stream at that size
(:mod:`plugins.traffic_sim.sub_stream`). SIGTERM stops the render within a
frame and leaves no partial file.
Prints one JSON line: ``{"video": ..., "truth": ..., "cached": ..., "seconds": ...}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from plugins.traffic_sim import cache
from plugins.traffic_sim.encoder import Cancelled
from plugins.traffic_sim.renderer import RenderSpec
from plugins.traffic_sim.sub_stream import write_sub_stream


def main(argv: list[str]) -> int:
    sim_dir, spec_json = Path(argv[0]), argv[1]
    sub = tuple(int(v) for v in argv[2].split("x")) if len(argv) > 2 else None
    spec = RenderSpec(**json.loads(spec_json))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        os.nice(10)  # the live server comes first
    except OSError:
        pass
    try:
        result = cache.render(spec, sim_dir, stop)
        if sub is not None:
            write_sub_stream(result.video, sub[0], sub[1], spec.fps, spec.keyframe_seconds, stop)
    except Cancelled:
        return 3
    print(json.dumps({"video": str(result.video), "truth": str(result.truth), "cached": result.cached, "seconds": result.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
