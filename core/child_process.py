"""Worker processes a supervisor thread keeps running: how one starts, and how long to wait before a restart.

Shared by the frame worker (:mod:`core.media.frame_process`) and a plugin's own worker (the
``vision_onnx`` detector process). A worker is ``python -P -m MODULE FD POLICY``: ``-P`` so that the server's
working directory cannot shadow our modules, ``FD`` its end of a socket pair (its death is the
supervisor's end of file), ``POLICY`` the analysis threads' ``[analytics] thread_policy``.

A worker stays in the server's session, hence in its CPU group (Linux's autogroup; under systemd the
service's cgroup holds both anyway), and its analysis threads run at nice +10 there, or at
``SCHED_IDLE`` with ``"idle"`` (a dedicated server). Within one group the scheduler lets a waking
thread of the server (the event loop serving live viewers) take a core from them soon, at once from a
``SCHED_IDLE`` one. Workers used to start sessions of their own under ``"nice"``; the two groups then
competed as equals, and a waking event loop waited for the workers' group's turn: with 16 cameras
analysed the viewers' p99 added delay was 2.8-3.6 times that without analytics, against 1.8-2.2 with
the workers in the server's group, the same code otherwise (bench/README.md, "The workers' session
under "nice"").
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
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
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
