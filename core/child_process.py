"""Worker processes a supervisor thread keeps running: how one starts, and how long to wait before a restart.

Shared by the frame worker (:mod:`core.media.frame_process`) and a plugin's own worker (the
``vision_onnx`` detector process). A worker is ``python -P -m MODULE FD POLICY``: ``-P`` so that the server's
working directory cannot shadow our modules, ``FD`` its end of a socket pair (its death is the
supervisor's end of file), ``POLICY`` the analysis threads' ``[analytics] thread_policy``.

Where its CPU is charged follows that policy. With ``"nice"`` (the default) a worker starts a session
of its own, so that Linux's autogroup gives it a CPU group of its own: on a machine shared with other
work its analysis has a whole group's share, not a part of the server's. With ``"idle"`` (a dedicated
server) it stays in the server's session, hence its CPU group, and its analysis threads run at
``SCHED_IDLE`` there: the scheduler then preempts them at once whenever a thread of the server wakes
(the server's own analysis threads included, at nice +10: they take its GIL). In a group of its own a
``SCHED_IDLE`` thread is idle only among its own group's threads, and a waking event loop waited for
the scheduler's next turn between the two groups: with 16 cameras analysed, the live viewers' p99 added delay was 1.8-2.7 times that
without analytics, against 1.05-1.6 in the server's group (bench/README.md, "Workers in the server's
CPU group").
"""

from __future__ import annotations

import random
import socket
import subprocess

from core.media import frame_decode

RESTART_BASE_S = 0.5
RESTART_CAP_S = 30.0
HEALTHY_AFTER_S = 60.0  # a worker up this long: its next crash restarts at once


def start_worker(python: str, module: str, env: dict[str, str] | None = None) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """Start ``module``'s worker; (the supervisor's end of the socket pair, the process)."""
    policy = frame_decode.thread_policy()
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [python, "-P", "-m", module, str(theirs.fileno()), policy],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=policy != "idle", env=env,
        )  # fmt: skip
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the child's copy is the only one left
    return ours, proc


def adopt_thread_policy(argv: list[str]) -> None:
    """In a worker, first thing: its analysis threads' policy, from the command line :func:`start_worker` gave it."""
    frame_decode.set_thread_policy(argv[2] if len(argv) > 2 else "nice", worker=True)


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
