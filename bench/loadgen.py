#!/usr/bin/python3
"""The load generator: many 1080p30 H.264 RTSP cameras from one pre-encoded clip.

Encoding 53 live 1080p streams is far beyond this machine, so the clip is
encoded once (PyAV's libx264, in the project's virtualenv) and cached under
``bench/out/``; the server then plays it to every mount without re-encoding.

Two halves, for two interpreters:

* :func:`ensure_clip` (virtualenv, PyAV) writes ``clip.h264`` (Annex-B, SPS/PPS
  before every keyframe, no B-frames, as a camera sends) and ``clip.h264.idx``
  (one line per access unit: offset, size, keyframe flag).
* ``/usr/bin/python3 bench/loadgen.py serve ...`` (system python, GStreamer's
  ``gi`` bindings) reads the clip into memory once and serves it at
  ``rtsp://127.0.0.1:PORT/NAME``. Each mount is an ``appsrc ! rtph264pay``
  pipeline; one GLib timer pushes the due access units to every playing mount,
  looping the clip, stamped with the pipeline's running time (so a loop never
  sends time backwards, which a ``multifilesrc`` loop would). Each mount starts
  at its own place in the clip, so the fleet's keyframes do not all coincide.

    /usr/bin/python3 bench/loadgen.py serve --port 8554 \\
        --mount cam0=bench/out/clip.h264 --mount cam1=bench/out/clip.h264

prints ``READY <port>`` once it listens. Mount names may use ``NAME*COUNT``
(``cam*53``) for ``cam0`` .. ``cam52`` of one clip.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"


# --- the clip (virtualenv, PyAV) -------------------------------------------------


def clip_path(gop_s: float, *, width: int = 1920, height: int = 1080, fps: int = 30, kbps: int = 4000,
              seconds: float = 12.0, footage: Path | None = None) -> Path:
    source = f"{footage.stem}_" if footage is not None else ""
    return OUT_DIR / f"clip_{source}{width}x{height}_{fps}fps_{kbps}k_gop{gop_s:g}s_{seconds:g}s.h264"


def ensure_clip(gop_s: float = 2.0, *, width: int = 1920, height: int = 1080, fps: int = 30, kbps: int = 4000,
                seconds: float = 12.0, footage: Path | None = None) -> Path:
    """The cached clip, encoded first if missing; ``seconds`` should be a multiple of ``gop_s``.

    The picture is a panning noise texture with moving blocks: enough detail
    that x264 spends its whole bit budget, as a busy street would. With
    ``footage`` (a video file), that video instead, scaled, each of its frames
    held for as many of ours as keeps its speed, looped to ``seconds``.
    """
    path = clip_path(gop_s, width=width, height=height, fps=fps, kbps=kbps, seconds=seconds, footage=footage)
    index = path.with_name(path.name + ".idx")
    if path.exists() and index.exists():
        return path
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    # one encoder at a time: two benches started together (the test suite's workers) each renamed their own
    # clip and index into place, and one could end with the other's index over its clip (x264 need not encode
    # the same bytes twice): the load generator then read garbage at the index's offsets and no camera came online
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path.exists() and index.exists()):
            pictures = (_footage(footage, width, height, fps) if footage is not None else
                        _texture(width, height))
            _encode_clip(path, index, gop_s, width, height, fps, kbps, seconds, pictures)
    return path


def _texture(width: int, height: int) -> Iterator[Any]:
    """Planar YUV 4:2:0 pictures (``height * 3 // 2`` rows of ``width``), as ``VideoFrame.from_ndarray`` takes."""
    import numpy as np

    rng = np.random.default_rng(7)
    # coarse noise, upscaled: texture that pans like a street scene, not white noise x264 cannot follow
    coarse = rng.integers(16, 235, size=((height + 256) // 4, (width + 512) // 4), dtype=np.uint8)
    texture = np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)
    chroma = np.full((height // 2, width), 128, dtype=np.uint8)
    i = 0
    while True:
        x, y = (i * 6) % 512, (i * 2) % 256
        luma = texture[y:y + height, x:x + width].copy()
        for k in range(6):  # blocks crossing the picture: vehicles
            bx = (i * (8 + 3 * k) + k * 300) % (width - 160)
            by = 120 + k * 150
            luma[by:by + 90, bx:bx + 160] = 40 + 30 * k
        yield np.vstack([luma, chroma])
        i += 1


def _footage(path: Path, width: int, height: int, fps: int) -> Iterator[Any]:
    """The video's frames scaled to ``width`` x ``height`` (as :func:`_texture`'s), each held to keep its
    speed at ``fps``, looped."""
    import av

    while True:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            hold = max(1, round(fps / float(stream.average_rate or fps)))
            for frame in container.decode(stream):
                scaled = frame.reformat(width=width, height=height, format="yuv420p").to_ndarray()
                for _ in range(hold):
                    yield scaled


def _encode_clip(path: Path, index: Path, gop_s: float, width: int, height: int, fps: int, kbps: int, seconds: float,
                 pictures: Iterator[Any]) -> None:
    import av

    keyint = max(1, round(gop_s * fps))
    frames = round(seconds * fps)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, fps)
    encoder.framerate = Fraction(fps, 1)
    encoder.bit_rate = kbps * 1000
    encoder.options = {
        "preset": "veryfast",
        "tune": "zerolatency",
        "x264-params": (
            f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:repeat-headers=1:sliced-threads=0:slices=1"
            f":vbv-maxrate={kbps}:vbv-bufsize={kbps}:nal-hrd=none"
        ),
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")  # two benches at once never share a file
    entries = []
    offset = 0
    with open(tmp, "wb") as out:
        for i in range(frames + 1):
            if i < frames:
                frame = av.VideoFrame.from_ndarray(next(pictures), format="yuv420p")
                frame.pts = i
                packets = encoder.encode(frame)
            else:
                packets = encoder.encode(None)
            for packet in packets:
                data = bytes(packet)
                out.write(data)
                entries.append(f"{offset} {len(data)} {1 if packet.is_keyframe else 0}\n")
                offset += len(data)
    tmp_index = index.with_name(f"{index.name}.{os.getpid()}.part")
    tmp_index.write_text("".join(entries))
    tmp_index.replace(index)
    tmp.replace(path)


# --- the RTSP server (system python, gi) ---------------------------------------------


def read_clip(path: str) -> list[bytes]:
    data = Path(path).read_bytes()
    units = []
    for line in Path(path + ".idx").read_text().splitlines():
        offset, size, _key = (int(x) for x in line.split())
        units.append(data[offset:offset + size])
    return units


def parse_mounts(specs: list[str]) -> list[tuple[str, str]]:
    mounts = []
    for spec in specs:
        name, sep, clip = spec.partition("=")
        if not sep or not name or not clip:
            raise SystemExit(f"--mount {spec!r}: want NAME=CLIP or NAME*COUNT=CLIP")
        if "*" in name:
            stem, count = name.split("*", 1)
            mounts += [(f"{stem}{i}", clip) for i in range(int(count))]
        else:
            mounts.append((name, clip))
    return mounts


def serve(args: argparse.Namespace) -> int:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    fps = args.fps
    clips: dict[str, list[bytes]] = {}
    mounts = parse_mounts(args.mount)
    for _name, clip in mounts:
        if clip not in clips:
            clips[clip] = read_clip(clip)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    points = server.get_mount_points()
    playing: dict[int, list] = {}  # id(appsrc) -> [appsrc, units, next index, start offset]
    launch = (
        "( appsrc name=src is-live=true format=time do-timestamp=true max-buffers=3 leaky-type=downstream"
        " caps=video/x-h264,stream-format=byte-stream,alignment=au"
        " ! rtph264pay name=pay0 pt=96 config-interval=-1 mtu=1400 )"
    )

    for number, (name, clip) in enumerate(mounts):
        units = clips[clip]
        # each mount starts on its own keyframe-free stretch of the clip, as unsynchronised cameras do
        start = (number * 37) % len(units)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)  # one pipeline per mount, however many clients
        # paused between DESCRIBE and PLAY, as a camera that starts sending on PLAY: no backlog burst
        factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.PAUSE)

        def configure(_factory, media, units=units, start=start):
            src = media.get_element().get_by_name("src")
            key = id(src)
            playing[key] = [src, units, start]
            media.connect("unprepared", lambda *_: playing.pop(key, None))

        factory.connect("media-configure", configure)
        points.add_factory("/" + name, factory)

    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr, flush=True)
        return 2

    origin = time.monotonic()
    sent = [0]  # frames pushed per mount so far (all mounts advance together)

    refused: dict[int, str] = {}  # id(appsrc) -> the last refusal logged for it

    def tick() -> bool:
        due = int((time.monotonic() - origin) * fps) + 1
        while sent[0] < due:
            sent[0] += 1
            for key, entry in list(playing.items()):
                src, units, index = entry
                entry[2] = (index + 1) % len(units)
                flow = src.emit("push-buffer", Gst.Buffer.new_wrapped(units[index]))
                # A refusal (FLUSHING while the shared media pauses or seeks for a client) is passing: the
                # mount keeps its place, and only "unprepared" ends it. Dropping it here left a prepared
                # media that nobody fed, whose new clients got a session and never a picture.
                if flow != Gst.FlowReturn.OK and refused.get(key) != flow.value_nick:
                    refused[key] = flow.value_nick
                    print(f"loadgen: a mount's push refused ({flow.value_nick}); kept", file=sys.stderr, flush=True)
                elif flow == Gst.FlowReturn.OK:
                    refused.pop(key, None)
        return True

    GLib.timeout_add(max(1, int(500 / fps)), tick)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    parent = os.getppid()

    def orphaned() -> bool:
        if os.getppid() != parent:  # the bench that started us is gone
            loop.quit()
            return False
        return True

    GLib.timeout_add_seconds(1, orphaned)
    print(f"READY {args.port} {len(mounts)}", flush=True)
    loop.run()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve clips over RTSP (system python3 with gi)")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--fps", type=int, default=30)
    s.add_argument("--mount", action="append", required=True, help="NAME=CLIP or NAME*COUNT=CLIP")
    c = sub.add_parser("clip", help="encode (or find) the cached clip and print its path (virtualenv)")
    c.add_argument("--gop", type=float, default=2.0)
    args = ap.parse_args()
    if args.command == "serve":
        return serve(args)
    print(ensure_clip(args.gop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
