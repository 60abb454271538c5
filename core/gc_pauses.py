"""Python's cyclic garbage collector, kept out of the live video's way.

Once started, the app holds about a hundred thousand long-lived objects
(modules, models, plugins, the camera registry). A full collection walks them
all: 40 to 65 ms measured on the benchmark with 53 cameras, a stall every
viewer sees as delay. ``gc.freeze()`` after start-up moves them to a
permanent generation that collections skip, so later collections walk only
what was made since. Every collection's duration is recorded in the metric
``bconnect_gc_pause_seconds`` (by generation), so a pause shows in Prometheus
rather than as an unexplained stutter.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram


class GcWatch:
    def __init__(self, histogram: Histogram) -> None:
        # The label children are made here, never in the callback: ``labels()``
        # takes the metric's lock, which a /metrics scrape holds while it
        # allocates; a collection started by that allocation would wait for
        # its own thread's lock, for good. ``observe()`` takes no such lock.
        self._children = {generation: histogram.labels(generation=str(generation)) for generation in range(3)}
        self._started: float | None = None
        self.running = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            child = self._children.get(info.get("generation"))
            if child is not None:
                child.observe(time.perf_counter() - self._started)
            self._started = None

    def start(self) -> None:
        """After start-up: collect once, freeze what is left, time every later collection."""
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._callback)
        self.running = True

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        gc.unfreeze()  # several apps in one process (tests): leave the collector as found
        self.running = False
