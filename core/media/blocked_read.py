"""Wake a thread that waits on sockets inside FFmpeg, from another thread (Linux).

PyAV bounds a read only through its interrupt callback, which takes the GIL
on every socket read FFmpeg makes (``core/media/ingest.py`` does without it),
and FFmpeg's own socket timeout misses one failure: a camera whose encoder
stopped while its RTSP session lives on. The camera's RTCP reports, and its
answers to keep-alives, arrive on the same sockets as the video, so FFmpeg's
wait never times out and the ingest would wait for the next frame forever.

:func:`wake` looks at what the thread is blocked in (the kernel shows it in
``/proc/self/task/TID/syscall``): when it is the ``poll`` FFmpeg waits in,
it reads the file descriptors being polled from the thread's memory (through
``/proc/self/mem``, so a stale address is an error, not a crash) and shuts
its stream sockets down. The poll returns, FFmpeg reads the end of the stream,
and the thread carries on in Python as after any lost connection.

Only stream sockets (TCP: RTSP's control connection, which also carries the
video when interleaved; HTTP; TLS over TCP). A datagram socket is left alone:
FFmpeg's RTP reader takes the empty read of a shut UDP socket for "no data
yet" and would poll it again at once, forever. With RTP over UDP the RTSP
connection is in the same poll, so shutting it ends the wait all the same.

Nothing here runs per packet: only when a stream has already been silent
for the stall timeout, or its ingest was asked to stop and did not.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import stat
import struct
import threading

# the system calls FFmpeg's network waits end in (libavformat/network.c, rtsp.c): poll(2) through glibc
POLL_CALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({7, 271}),  # poll, ppoll
    "aarch64": frozenset({73}),  # ppoll (arm64 has no poll)
}
POLLFD = struct.Struct("=ihh")  # struct pollfd: int fd; short events; short revents
MAX_FDS = 64


def _syscall_path(tid: int) -> str:
    return f"/proc/self/task/{tid}/syscall"


@functools.cache
def supported() -> bool:
    """Whether :func:`wake` can work here: Linux, a known CPU, the kernel's per-thread syscall file."""
    if platform.machine() not in POLL_CALLS:
        return False
    try:
        with open(_syscall_path(threading.get_native_id())) as f:
            f.read()
        with open("/proc/self/mem", "rb"):
            pass
    except OSError:
        return False
    return True


def _blocked_in(tid: int) -> tuple[int, int] | None:
    """``(address of the pollfd array, count)`` if the thread waits in poll, else ``None``."""
    try:
        with open(_syscall_path(tid)) as f:
            fields = f.read().split()
    except OSError:
        return None  # the thread has ended
    calls = POLL_CALLS.get(platform.machine(), frozenset())
    if len(fields) < 3 or not fields[0].isdigit() or int(fields[0]) not in calls:
        return None  # "running", or another system call: not waiting on sockets
    address, count = int(fields[1], 16), int(fields[2], 16)
    if address == 0 or not 0 < count <= MAX_FDS:
        return None
    return address, count


def _polled_fds(address: int, count: int) -> tuple[int, ...] | None:
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.pread(fd, POLLFD.size * count, address)
    except (OSError, OverflowError):
        return None
    finally:
        os.close(fd)
    if len(data) != POLLFD.size * count:
        return None
    return tuple(entry[0] for entry in POLLFD.iter_unpack(data))


def wake(tid: int | None) -> int:
    """Shut down the stream sockets thread ``tid`` waits on in poll; how many (0: it was not waiting on one).

    The descriptors are duplicated first and checked again after: the thread
    must still wait on the same ones, each still the same socket, so a number
    closed and reused meanwhile is never touched.
    """
    if tid is None or not supported():
        return 0
    first = _blocked_in(tid)
    fds = _polled_fds(*first) if first is not None else None
    if not fds:
        return 0
    held: dict[int, int] = {}  # fd -> our duplicate of it
    try:
        for fd in fds:
            if fd >= 0 and fd not in held:
                try:
                    held[fd] = os.dup(fd)
                except OSError:
                    continue
        if _blocked_in(tid) != first or _polled_fds(*first) != fds:
            return 0  # it returned meanwhile: those numbers may be someone else's now
        woken = 0
        for fd, dup in list(held.items()):
            try:
                mine, theirs = os.fstat(dup), os.fstat(fd)
            except OSError:
                continue
            if not stat.S_ISSOCK(mine.st_mode) or (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
                continue
            with socket.socket(fileno=held.pop(fd)) as sock:  # owns the duplicate from here
                if sock.type != socket.SOCK_STREAM:
                    continue  # see the module's note on datagram sockets
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    continue  # not connected (any more): nothing to wake there
            woken += 1
        return woken
    finally:
        for dup in held.values():
            os.close(dup)
