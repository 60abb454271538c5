"""Transcoding for browsers: one shared transcoder against aiortc's encoding per viewer.

    .venv/bin/python bench/transcode.py                      # 1080p camera, 4 VP8 viewers, 4 s of video
    .venv/bin/python bench/transcode.py --size 640x360 --viewers 8

A browser that cannot take the camera's codec (a stock Firefox without
OpenH264 takes VP8, not H.264) needs the video re-encoded. B-Connect runs one
transcoder per camera stream and target codec, shared by all such viewers
(:class:`core.media.transcode.FrameCoder`: decode, scale to at most 1280
wide, libvpx realtime). aiortc's default for a track of decoded frames is an
encoder per viewer (each ``RTCRtpSender`` owns one; ``MediaRelay`` shares only
the decoded frames), so the baseline here decodes the clip once and encodes
every frame once per viewer with aiortc's own ``Vp8Encoder``, as its senders
would.

Both run in this process on the same clip (the load generator's, H.264, SPS/PPS
in band), one frame after the other as a live camera delivers them; CPU is
this process's user + system time over all threads, per second of video. The
last line is JSON: ``target``, ``size``, ``viewers``, ``seconds``,
``shared_cpu_s_per_s``, ``baseline_cpu_s_per_s``, ``ratio`` (baseline over
shared), ``shared_out_size``, ``baseline_out_size``.
"""

from __future__ import annotations

import argparse
import fractions
import json
import resource
import sys
import time
from pathlib import Path

import av
from aiortc.codecs.vpx import Vp8Encoder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.media.packets import MediaPacket  # noqa: E402
from core.media.transcode import FrameCoder  # noqa: E402

from loadgen import ensure_clip  # noqa: E402

TB = fractions.Fraction(1, 90_000)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_clip(path: Path, fps: int, seconds: float) -> list[MediaPacket]:
    """The clip's access units as the ingest would hand them over (90 kHz timestamps)."""
    out: list[MediaPacket] = []
    step = 90_000 // fps
    with av.open(str(path), format="h264") as container:
        for i, packet in enumerate(container.demux(video=0)):
            if packet.size == 0:
                continue
            if len(out) >= seconds * fps:
                break
            ts = len(out) * step
            out.append(MediaPacket(bytes(packet), ts, ts, TB, packet.is_keyframe, time.monotonic(), 1))
    return out


def shared(packets: list[MediaPacket], fps: int) -> tuple[float, tuple[int, int] | None]:
    coder = FrameCoder("vp8", float(fps))
    start = cpu_s()
    for packet in packets:
        coder.code(packet, "h264")
    used = cpu_s() - start
    size = coder.size
    coder.close()
    return used, size


def per_viewer(packets: list[MediaPacket], viewers: int) -> tuple[float, tuple[int, int] | None]:
    decoder = av.CodecContext.create("h264", "r")
    encoders = [Vp8Encoder() for _ in range(viewers)]
    size = None
    start = cpu_s()
    for packet in packets:
        inp = av.Packet(packet.data)
        inp.pts, inp.time_base = packet.pts, TB
        for frame in decoder.decode(inp):
            size = (frame.width, frame.height)
            for encoder in encoders:
                encoder.encode(frame)
    return cpu_s() - start, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1920x1080", help="the camera's picture, WIDTHxHEIGHT")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--kbps", type=int, default=4000, help="the camera's H.264 bit rate")
    ap.add_argument("--viewers", type=int, default=4, help="browsers that need VP8")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of video to transcode")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.viewers < 1 or args.seconds <= 0:
        ap.error("need --viewers >= 1 and --seconds > 0")

    clip = ensure_clip(2.0, width=width, height=height, fps=args.fps, kbps=args.kbps, seconds=max(4.0, args.seconds))
    packets = read_clip(clip, args.fps, args.seconds)
    seconds = len(packets) / args.fps
    print(f"transcode bench: {width}x{height} H.264 {args.kbps} kbit/s, {seconds:g} s of video, "
          f"{args.viewers} viewers needing VP8", flush=True)

    ours, ours_size = shared(packets, args.fps)
    base, base_size = per_viewer(packets, args.viewers)
    ours_rate, base_rate = ours / seconds, base / seconds
    print(f"  B-Connect, one shared transcoder      {ours_rate:.3f} CPU-s per s of video (out {ours_size}), "
          f"whatever the number of viewers")
    print(f"  aiortc, one encoder per viewer        {base_rate:.3f} CPU-s per s of video (out {base_size}), "
          f"{base_rate / args.viewers:.3f} per viewer")
    print(f"  baseline / shared                     {base_rate / ours_rate:.2f}")
    print(json.dumps({
        "target": "vp8",
        "size": [width, height],
        "viewers": args.viewers,
        "seconds": seconds,
        "shared_cpu_s_per_s": round(ours_rate, 4),
        "baseline_cpu_s_per_s": round(base_rate, 4),
        "ratio": round(base_rate / ours_rate, 3),
        "shared_out_size": list(ours_size) if ours_size else None,
        "baseline_out_size": list(base_size) if base_size else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
