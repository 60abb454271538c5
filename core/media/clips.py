"""Evidence clips: pre-roll plus post-roll of a camera, remuxed to MP4, never re-encoded.

``services.clips`` is a :class:`ClipWriter`. ``await clips.cut("cam1", pre_s=5,
post_s=5)`` takes the last ``pre_s`` seconds from the camera's ring buffer
(starting at a keyframe), waits for ``post_s`` seconds more, and writes an MP4
under ``data_dir/clips/``: a temporary file first, flushed to disk, then
renamed, so a clip is either complete or absent. Its SHA-256 is computed from
the bytes on disk and recorded beside it (``<name>.json``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from core.media.packets import MediaPacket, StreamInfo
from core.media.mux import SubscriptionClosed

CLIP_TIME_BASE = Fraction(1, 90_000)


class ClipError(Exception):
    """A clip cannot be cut; the message says why (unknown camera, no video yet ...)."""


@dataclass(frozen=True)
class Clip:
    camera_id: str
    path: Path
    sha256: str
    duration_s: float
    frames: int
    size: int
    started_at: float  # time.time() of the first frame
    codec: str
    width: int
    height: int
    id: str | None = None  # the clips table's id, once recorded there (evidence cut through services.clips)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:80] or "camera"


def write_mp4(path: Path, packets: list[MediaPacket], info: StreamInfo) -> tuple[float, int]:
    """Mux Annex-B packets into an MP4 at ``path``; blocking. Returns (duration s, frames)."""
    first = packets[0]
    base = _ts(first)
    stamps = [_ts(p) for p in packets]
    # each sample lasts until the next; the last one as long as the one before.
    # Without a duration the last frame falls outside the MP4's edit list.
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    steps.append(steps[-1] if steps else 3600)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_mux_stream(info.codec, width=info.width, height=info.height)
        stream.time_base = CLIP_TIME_BASE
        for p, dts, step in zip(packets, stamps, steps):
            packet = av.Packet(p.data)
            packet.dts = dts - base
            packet.pts = (p.pts if p.pts is not None else dts) - base
            packet.duration = max(step, 1)
            packet.time_base = CLIP_TIME_BASE
            packet.is_keyframe = p.keyframe
            packet.stream = stream
            out.mux(packet)
    duration = (stamps[-1] - base + steps[-1]) / 90_000
    return duration, len(packets)


def _ts(p: MediaPacket) -> int:
    ts = p.dts if p.dts is not None else p.pts
    return ts if ts is not None else 0


def _finish(tmp: Path, final: Path, meta: dict[str, Any]) -> tuple[str, int]:
    """fsync, hash the bytes on disk, rename into place, record the hash; blocking."""
    digest = hashlib.sha256()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
        f.seek(0)
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        size = f.tell()
    sha = digest.hexdigest()
    os.replace(tmp, final)
    side_tmp = final.with_suffix(".json.tmp")
    side_tmp.write_text(json.dumps({**meta, "sha256": sha, "size": size}, indent=2))
    with open(side_tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(side_tmp, final.with_suffix(".json"))
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the renames themselves survive a power cut
    finally:
        os.close(dir_fd)
    return sha, size


class ClipWriter:
    """Cuts evidence clips from the cameras of a :class:`~core.media.registry.CameraRegistry`."""

    def __init__(self, cameras: Any, directory: Path, *, max_parallel: int = 4, max_seconds: float = 120.0) -> None:
        self.cameras = cameras
        self.directory = Path(directory)
        self.max_seconds = max_seconds
        self._slots = asyncio.Semaphore(max_parallel)

    async def cut(self, camera_id: str, *, pre_s: float = 5.0, post_s: float = 5.0, name: str | None = None) -> Clip:
        """Write a clip of about ``pre_s`` seconds before now and ``post_s`` after.

        The pre-roll starts at a keyframe at least ``pre_s`` old when the ring
        holds one. Post-roll stops early if the camera reconnects (a new
        generation is a different stream) or goes quiet.
        """
        if pre_s < 0 or post_s < 0 or pre_s + post_s > self.max_seconds:
            raise ClipError(f"pre_s and post_s must be >= 0 and together at most {self.max_seconds:g} s")
        runtime = self.cameras.get(camera_id)
        if runtime is None:
            raise ClipError(f"unknown camera {camera_id!r}")
        mux = runtime.mux
        # no await between these two: the post-roll continues exactly where the pre-roll ends
        sub = mux.subscribe(f"clip:{camera_id}", maxsize=4096, start="next")
        packets = mux.preroll(pre_s)
        info = mux.stream_info
        try:
            if not packets or info is None:
                raise ClipError(f"camera {camera_id!r} has sent no keyframe yet")
            await self._post_roll(sub, packets, post_s)
        finally:
            sub.close()
        started_at = time.time() - (time.monotonic() - packets[0].arrival)
        async with self._slots:
            return await asyncio.to_thread(self._write, camera_id, packets, info, started_at, name)

    async def _post_roll(self, sub: Any, packets: list[MediaPacket], post_s: float) -> None:
        generation = packets[-1].generation
        now_ts = packets[-1].dts
        end_ts = (now_ts if now_ts is not None else 0) + int(post_s * 90_000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + post_s + 5.0
        while post_s > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                packet = await asyncio.wait_for(sub.get(), remaining)
            except (asyncio.TimeoutError, SubscriptionClosed):
                return
            if packet.generation != generation:
                return
            if packet.dts is not None and packet.dts >= end_ts:
                return
            packets.append(packet)

    def _write(self, camera_id: str, packets: list[MediaPacket], info: StreamInfo, started_at: float, name: str | None) -> Clip:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
        stem = _safe_name(name) if name else f"{_safe_name(camera_id)}-{stamp}-{uuid.uuid4().hex[:8]}"
        final = self.directory / f"{stem}.mp4"
        if final.exists():
            raise ClipError(f"clip {final.name} exists already; evidence is never overwritten")
        tmp = self.directory / f".{stem}.mp4.tmp"
        try:
            duration, frames = write_mp4(tmp, packets, info)
            meta = {
                "camera_id": camera_id,
                "started_at": started_at,
                "duration_s": round(duration, 3),
                "frames": frames,
                "codec": info.codec,
                "width": info.width,
                "height": info.height,
            }
            sha, size = _finish(tmp, final, meta)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Clip(camera_id, final, sha, duration, frames, size, started_at, info.codec, info.width, info.height)
