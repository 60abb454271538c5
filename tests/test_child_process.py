"""Worker processes: how one starts (one end of a socket pair, the thread policy, the server's session) and the
wait before a restart."""

from __future__ import annotations

import os
import random
import sys

import pytest

from core.child_process import HEALTHY_AFTER_S, RESTART_CAP_S, Backoff, start_worker
from core.media import frame_decode


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


def echo(tmp_path) -> tuple[int, str, int]:
    """Start a worker whose module is a one-line program (the same command line as a real worker's) that
    answers its session and its policy argument; (that session, that policy, the worker's pid)."""
    (tmp_path / "echo_session.py").write_text(
        "import os, socket, sys; s = socket.socket(fileno=int(sys.argv[1])); s.sendall(f'{os.getsid(0)} {sys.argv[2]}'.encode())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    ours, proc = start_worker(sys.executable, "echo_session", env)
    try:
        sid, policy = ours.recv(64).decode().split()
        assert proc.wait(10) == 0
        assert ours.recv(1) == b""  # its end closed with it: the supervisor sees the end of file
    finally:
        ours.close()
    return int(sid), policy, proc.pid


def test_a_worker_gets_its_end_of_the_socket_and_stays_in_the_servers_cpu_group(tmp_path, monkeypatch):
    monkeypatch.setattr(frame_decode, "FRAME_POLICY", None)  # [analytics] thread_policy = "nice", the default
    monkeypatch.setattr(frame_decode, "POLICY_NAME", "nice")
    sid, policy, pid = echo(tmp_path)
    # the server's session, so its autogroup: a group of its own competed with the server's as an equal,
    # and a waking event loop waited for that group's turn
    assert sid == os.getsid(0) != pid
    assert policy == "nice"


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_with_the_idle_policy_a_worker_stays_in_the_servers_cpu_group(tmp_path, monkeypatch):
    monkeypatch.setattr(frame_decode, "FRAME_POLICY", None)
    monkeypatch.setattr(frame_decode, "POLICY_NAME", "nice")
    frame_decode.set_thread_policy("idle")  # a dedicated server
    sid, policy, pid = echo(tmp_path)
    # the server's session, so its autogroup: there SCHED_IDLE threads yield at once to a waking event loop
    assert sid == os.getsid(0) != pid
    assert policy == "idle"  # and it is told to put its analysis threads at SCHED_IDLE
