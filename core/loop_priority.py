"""The event loop's thread ahead of the machine's other work: Linux real-time scheduling.

Live view is the event loop's work: every RTP packet to every viewer is sent
from it. When the cores are busy (analytics, or anything else on the server),
a waking loop waits for one. On the 2-core benchmark machine, 16 cameras
analysed raised that wait from about 45 to about 115 µs a wake-up and nearly
doubled the viewers' p99 delay; no niceness, CPU group, slice or CPU
affinity of the analysis removed it (bench/README.md, "Live view with and
without analytics"). At ``SCHED_RR`` with a low real-time priority the loop
preempts any normal thread the moment it wakes: the wait fell to about 1 µs,
and the viewers' p99 delay with 16 cameras analysed to that of a server
without analytics at normal priority.

Only the loop's own thread: threads and processes it starts afterwards
(ingest, analytics, the workers, executors) begin at normal priority
(``SCHED_RESET_ON_FORK``), and the analysis then lowers itself as before. The
kernel's real-time throttling (``sched_rt_runtime_us``: 95 % of each second
by default) keeps even a runaway loop from taking a core whole.

The kernel allows it to root, to a process with ``CAP_SYS_NICE``, or to one
whose ``RLIMIT_RTPRIO`` is at least :data:`PRIORITY` (systemd:
``LimitRTPRIO=10``; ``/etc/security/limits.conf``: ``rtprio``). Otherwise the
loop runs at normal priority, and the log and ``/api/health`` say why.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("bconnect.serve")

PRIORITY = 10  # low among real-time priorities (the kernel's own threads run at 50, audio servers at about 20)
GRANT = f"grant it with CAP_SYS_NICE or LimitRTPRIO={PRIORITY} (systemd), rtprio {PRIORITY} (limits.conf)"


_why_normal = "normal (not raised: the app runs outside bconnect serve)"


def raise_loop_priority(enabled: bool = True) -> str:
    """Put the calling thread (the event loop's, before it starts) at real-time priority; what it runs at, in words."""
    global _why_normal
    if not enabled:
        _why_normal = "normal ([server] realtime_loop = false)"
        return _why_normal
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_RESET_ON_FORK"):
        _why_normal = "normal (no real-time scheduling on this system)"
        return _why_normal
    try:
        # pid 0: this thread only; RESET_ON_FORK: what it starts begins at normal priority
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(PRIORITY))
    except PermissionError:
        _why_normal = f"normal (real-time priority not permitted: {GRANT})"
        log.info("live view's event loop runs at %s", _why_normal)
        return _why_normal
    except OSError as exc:
        _why_normal = f"normal (real-time priority refused: {exc.strerror or exc})"
        log.warning("live view's event loop runs at %s", _why_normal)
        return _why_normal
    now = describe()
    log.info("live view's event loop runs at %s", now)
    return now


def describe() -> str:
    """What the calling thread (the event loop's, in a request) runs at, read from the kernel."""
    try:
        policy = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
        priority = os.sched_getparam(0).sched_priority
    except (AttributeError, OSError):
        return _why_normal
    if policy in (getattr(os, "SCHED_RR", -1), getattr(os, "SCHED_FIFO", -1)):
        return f"realtime ({'SCHED_RR' if policy == os.SCHED_RR else 'SCHED_FIFO'} {priority})"
    return _why_normal
