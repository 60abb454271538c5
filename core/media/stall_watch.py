"""One thread per process that looks at every camera's ingest once a second.

An ingest thread blocked in FFmpeg cannot notice that its stream went
silent: it waits for the next packet. This thread can. Each look is a few
attribute reads per camera (:meth:`CameraIngest.check_stall`); only a stream
silent for its stall timeout, or an ingest asked to stop that has not, costs
more (:mod:`core.media.blocked_read`). The thread runs while there is an
ingest to watch and ends when the last one is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger("bconnect.ingest")


class Watched(Protocol):
    camera_id: str

    def check_stall(self, now: float) -> None: ...


class StallWatch:
    def __init__(self, period_s: float = 1.0) -> None:
        self.period_s = period_s
        self._watched: set[Watched] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, ingest: Watched) -> None:
        with self._lock:
            self._watched.add(ingest)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-stall-watch", daemon=True)
                self._thread.start()

    def discard(self, ingest: Watched) -> None:
        with self._lock:
            self._watched.discard(ingest)

    def _run(self) -> None:
        while True:
            time.sleep(self.period_s)
            with self._lock:
                watched = list(self._watched)
                if not watched:
                    self._thread = None
                    return
            now = time.monotonic()
            for ingest in watched:
                try:
                    ingest.check_stall(now)
                except Exception:  # one camera's trouble must not blind the watch to the others
                    log.exception("camera %s: the stall check failed", ingest.camera_id)


WATCH = StallWatch()  # the process's one watch, shared by its ingests
