"""The served event loop at real-time priority, where the kernel allows it; the threads it starts are not.

Real processes: ``bconnect serve``, and small interpreters started without
``CAP_SYS_NICE`` to see what the kernel allows an unprivileged service.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core import loop_priority
from core.testing.pytest_plugin import bconnect

REPO = Path(__file__).resolve().parents[1]
PR_CAPBSET_DROP, CAP_SYS_NICE = 24, 23  # <linux/prctl.h>, <linux/capability.h>
PASSWORD = "loop-priority-admin-1"
ASK = "from core.loop_priority import raise_loop_priority; print(raise_loop_priority())"


def permitted_here() -> bool:
    probe = subprocess.run([sys.executable, "-c", ASK], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, probe.stderr
    return probe.stdout.startswith("realtime")


def thread_policies(pid: int) -> dict[int, tuple[int, int]]:
    """Each thread of ``pid``: (scheduling policy, real-time priority), from /proc (fields 41 and 40 of stat)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rpartition(")")[2].split()
        found[int(task.name)] = (int(fields[38]), int(fields[37]))
    return found


def test_the_served_loop_runs_at_realtime_priority_and_what_it_starts_at_normal(make_deployment, start_server):
    d = make_deployment()
    config = ["--config", str(d.path)]
    added = bconnect("users", "add", "loop-admin", "--role", "admin", "--agency", "dishub", "--password-stdin", *config,
                     stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    token = bconnect("users", "token", "loop-admin", "--name", "t", *config).stdout.strip()
    server = start_server(d)
    body = httpx.get(server.url + "/api/health", headers={"Authorization": f"Bearer {token}"}).json()
    anonymous = httpx.get(server.url + "/api/health").json()
    assert "live_loop" not in anonymous  # server operations: admins only
    policies = thread_policies(server.process.pid)
    main, others = policies.pop(server.process.pid), policies
    assert len(others) >= 2  # the server has started threads of its own (executors, the stall watch, ...)
    assert all(policy != os.SCHED_RR for policy, _ in others.values()), others
    if permitted_here():
        assert body["live_loop"] == "realtime (SCHED_RR 10)"
        assert main == (os.SCHED_RR, 10)
        assert "live view's event loop runs at realtime (SCHED_RR 10)" in server.log()
    else:
        assert body["live_loop"].startswith("normal (real-time priority not permitted: grant it with CAP_SYS_NICE")
        assert main == (os.SCHED_OTHER, 0)
        assert "real-time priority not permitted" in server.log()


def _without_cap_sys_nice(rtprio: int):
    def drop() -> None:
        resource.setrlimit(resource.RLIMIT_RTPRIO, (rtprio, rtprio))
        # out of the bounding set: the interpreter exec'd next is root without CAP_SYS_NICE
        if ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_SYS_NICE)")

    return drop


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping a capability from the bounding set needs root")
@pytest.mark.parametrize(("rtprio", "expected"), [
    (0, f"normal (real-time priority not permitted: {loop_priority.GRANT})"),
    (10, "realtime (SCHED_RR 10)"),  # LimitRTPRIO=10 in a systemd unit grants exactly this
])  # fmt: skip
def test_an_unprivileged_server_needs_an_rtprio_limit(rtprio, expected):
    raise_limit = f"import resource; resource.setrlimit(resource.RLIMIT_RTPRIO, ({rtprio}, {rtprio}))"
    if subprocess.run([sys.executable, "-c", raise_limit], capture_output=True, timeout=30).returncode != 0:
        hard = resource.getrlimit(resource.RLIMIT_RTPRIO)[1]
        pytest.skip(f"the hard RLIMIT_RTPRIO here is {hard}, and raising it needs CAP_SYS_RESOURCE")
    ran = subprocess.run([sys.executable, "-c", ASK], cwd=REPO, capture_output=True, text=True, timeout=30,
                         preexec_fn=_without_cap_sys_nice(rtprio))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == expected


def test_switched_off_it_says_so_and_touches_nothing(monkeypatch):
    monkeypatch.setattr(loop_priority, "_why_normal", loop_priority._why_normal)  # restored after the test
    before = os.sched_getscheduler(0), os.sched_getparam(0).sched_priority
    assert loop_priority.raise_loop_priority(False) == "normal ([server] realtime_loop = false)"
    assert (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority) == before
    assert loop_priority.describe() == "normal ([server] realtime_loop = false)"
