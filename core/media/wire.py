"""The byte format between the server and its ingest processes.

One stream socket per ingest process carries frames: a 9-byte header (kind,
camera slot, payload length) and the payload. Packets, the hot path, have a
fixed binary layout; everything rare (stream descriptions, status, log records,
commands) is pickled. Both ends are the same program version, started by the
server itself. The ingest process parses what cameras send, but it runs as the
same user as the server: taking it over would already give everything a
forged pickle could, so pickle widens nothing.
"""

from __future__ import annotations

import pickle
import socket
import struct
from collections.abc import Iterator
from typing import Any

from core.media.packets import MediaPacket

HEADER = struct.Struct("<BII")  # kind, slot (never reused: late packets of a stopped camera stay its own), length
PACKET = struct.Struct("<qqdIB")  # pts, dts, arrival, generation, flags
MAX_PAYLOAD = 64 * 1024 * 1024  # a bigger frame is a corrupt stream, not video

# worker -> server
K_PACKET = 1
K_INFO = 2  # a StreamInfo
K_STATUS = 3  # a dict of the camera's status and counters
K_LOG = 4  # (logger name, level, message, extra) for the server's log
K_READY = 5  # the worker is up (slot 0, payload: pid)
# server -> worker
K_START = 10  # (camera id, StreamSource, IngestSettings)
K_STOP = 11

F_KEY = 1
F_NO_PTS = 2
F_NO_DTS = 4


class WireError(Exception):
    """The peer sent bytes that are not this format: the connection is unusable."""


def frame(kind: int, slot: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, slot, len(payload)) + payload


def frame_obj(kind: int, slot: int, obj: Any) -> bytes:
    return frame(kind, slot, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def packet_header(slot: int, packet: MediaPacket) -> bytes:
    """Header and fixed fields of a packet frame; the payload (``packet.data``) follows it on the wire."""
    flags = (F_KEY if packet.keyframe else 0) | (F_NO_PTS if packet.pts is None else 0) | (F_NO_DTS if packet.dts is None else 0)
    fixed = PACKET.pack(packet.pts or 0, packet.dts or 0, packet.arrival, packet.generation, flags)
    return HEADER.pack(K_PACKET, slot, PACKET.size + len(packet.data)) + fixed


def unpack_packet(payload: memoryview) -> tuple[int | None, int | None, float, int, bool, bytes]:
    pts, dts, arrival, generation, flags = PACKET.unpack_from(payload)
    data = bytes(payload[PACKET.size :])
    return (
        None if flags & F_NO_PTS else pts,
        None if flags & F_NO_DTS else dts,
        arrival,
        generation,
        bool(flags & F_KEY),
        data,
    )


class FrameReader:
    """Splits a byte stream into ``(kind, slot, payload)`` frames as bytes arrive."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, int, memoryview]]:
        """Every whole frame now buffered; each payload view is valid until the next ``feed``."""
        buf = self._buf
        if buf:
            buf += data
        else:
            buf = bytearray(data)
        view = memoryview(buf)
        pos, end = 0, len(buf)
        try:
            while end - pos >= HEADER.size:
                kind, slot, size = HEADER.unpack_from(view, pos)
                if size > MAX_PAYLOAD:
                    raise WireError(f"frame of {size} bytes (kind {kind})")
                if end - pos - HEADER.size < size:
                    break
                start = pos + HEADER.size
                pos = start + size
                yield kind, slot, view[start:pos]
        finally:
            view.release()
            self._buf = buf if pos == 0 else (buf[pos:] if pos < end else bytearray())


def send_buffers(sock: socket.socket, buffers: list[bytes]) -> None:
    """Write every buffer, in order, with as few system calls as the socket allows."""
    i = 0
    while i < len(buffers):
        if not len(buffers[i]):
            i += 1
            continue
        sent = sock.sendmsg(buffers[i : i + 512])
        while sent:
            size = len(buffers[i])
            if sent >= size:
                sent -= size
                i += 1
            else:
                buffers[i] = memoryview(buffers[i])[sent:]
                sent = 0
