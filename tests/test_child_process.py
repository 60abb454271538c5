"""Worker processes: how one starts (its own session, one end of a socket pair) and the wait before a restart."""

from __future__ import annotations

import os
import random
import sys

from core.child_process import HEALTHY_AFTER_S, RESTART_CAP_S, Backoff, start_worker


def test_the_backoff_restarts_at_once_then_doubles_to_its_cap_and_forgives_a_healthy_worker():
    backoff = Backoff(random.Random(7))
    waits = [backoff.wait_s(up_for=1.0) for _ in range(10)]
    assert waits[0] == 0.0  # a first crash: at once
    for n, wait in enumerate(waits[1:], start=2):
        full = min(RESTART_CAP_S, 0.5 * 2 ** (n - 2))
        assert full / 2 <= wait <= full, (n, wait)  # jittered within half of it and all of it
    assert waits[-1] >= RESTART_CAP_S / 2
    assert backoff.wait_s(up_for=HEALTHY_AFTER_S) == 0.0  # it ran a minute: healthy, at once again
    assert 0.25 <= backoff.wait_s(up_for=1.0) <= 0.5


def test_a_worker_gets_its_end_of_the_socket_in_a_session_of_its_own(tmp_path):
    # a module that is a one-line program, started with the same command line as a real worker
    (tmp_path / "echo_session.py").write_text(
        "import os, socket, sys; s = socket.socket(fileno=int(sys.argv[1])); s.sendall(str(os.getsid(0)).encode())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    ours, proc = start_worker(sys.executable, "echo_session", env)
    try:
        sid = int(ours.recv(64).decode())
        assert proc.wait(10) == 0
        assert sid == proc.pid != os.getsid(0)  # it leads a session of its own: its own CPU group
        assert ours.recv(1) == b""  # its end closed with it: the supervisor sees the end of file
    finally:
        ours.close()
