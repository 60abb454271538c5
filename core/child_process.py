"""Worker processes a supervisor thread keeps running: how one starts, and how long to wait before a restart.

Shared by the frame worker (:mod:`core.media.frame_process`) and a plugin's own worker (the
``vision_onnx`` detector process). A worker is ``python -P -m MODULE FD``: ``-P`` so that the server's
working directory cannot shadow our modules, ``FD`` its end of a socket pair (its death is the
supervisor's end of file), in a session of its own so that Linux's autogroup gives its CPU a group of
its own, not the server's.
"""

from __future__ import annotations

import random
import socket
import subprocess

RESTART_BASE_S = 0.5
RESTART_CAP_S = 30.0
HEALTHY_AFTER_S = 60.0  # a worker up this long: its next crash restarts at once


def start_worker(python: str, module: str, env: dict[str, str] | None = None) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """Start ``module``'s worker; (the supervisor's end of the socket pair, the process)."""
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [python, "-P", "-m", module, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True, env=env,
        )  # fmt: skip
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the child's copy is the only one left
    return ours, proc


class Backoff:
    """The wait before the next start: none after a worker that was up ``HEALTHY_AFTER_S`` (or the first
    failure), then 0.5 s doubling to 30 s, each drawn between half and all of it (workers that died
    together do not come back together)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self.failures = 0

    def wait_s(self, up_for: float) -> float:
        """How long to wait, for a worker that ran ``up_for`` seconds before it ended."""
        self.failures = 1 if up_for >= HEALTHY_AFTER_S else self.failures + 1
        delay = min(RESTART_CAP_S, RESTART_BASE_S * 2 ** (self.failures - 2)) if self.failures > 1 else 0.0
        return self.rng.uniform(0.5 * delay, delay) if delay else 0.0
