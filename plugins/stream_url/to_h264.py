"""Re-encode a local video file to H.264 for a looped ``stream_url`` camera (browsers play only H.264).

    python -m plugins.stream_url.to_h264 SOURCE DEST.mp4

The ingest relays a camera's packets to viewers without transcoding, so a
file played as a camera (``loop = true``) must be H.264 already; footage in
another codec (Debian's ``vtest.avi`` is MPEG-4 part 2) is converted once.
The settings are those a looped file needs: main profile, no B-frames,
yuv420p, a keyframe exactly every ``keyframe_s`` (scene cuts off) so the
loop restarts on a keyframe; the source's frame rate and size are kept.
Idempotent: a destination that is H.264 and newer than its source is left
as it is. Written atomically (a temporary file renamed when complete).
"""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType


class ConvertError(Exception):
    pass


def is_h264(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and container.streams.video[0].codec_context.name == "h264"
    except av.FFmpegError:
        return False


def up_to_date(source: Path, dest: Path) -> bool:
    return dest.is_file() and dest.stat().st_mtime >= source.stat().st_mtime and is_h264(dest)


def convert(source: Path, dest: Path, keyframe_s: float = 2.0, preset: str = "veryfast") -> bool:
    """Write ``dest`` (.mp4) from ``source``; False when it was already up to date."""
    if not source.is_file():
        raise ConvertError(f"{source}: no such file")
    if up_to_date(source, dest):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.part{dest.suffix}")
    try:
        with av.open(str(source)) as src:
            if not src.streams.video:
                raise ConvertError(f"{source}: has no video stream")
            stream = src.streams.video[0]
            rate = Fraction(stream.average_rate or 25).limit_denominator(1001)
            gop = max(1, round(float(rate) * keyframe_s))
            with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
                enc = out.add_stream("libx264", rate=rate)
                enc.width, enc.height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
                enc.pix_fmt = "yuv420p"
                enc.codec_context.gop_size = gop
                enc.codec_context.options = {
                    "preset": preset,
                    "profile": "main",
                    "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0",
                }
                for i, frame in enumerate(src.decode(stream)):
                    picture = frame.reformat(width=enc.width, height=enc.height, format="yuv420p")
                    picture.pts, picture.time_base = i, 1 / rate  # even pacing, whatever the source's stamps
                    picture.pict_type = PictureType.NONE  # the source's keyframes would force extra ones
                    for packet in enc.encode(picture):
                        out.mux(packet)
                for packet in enc.encode(None):
                    out.mux(packet)
        os.replace(tmp, dest)
    except av.FFmpegError as exc:
        raise ConvertError(f"{source}: {' '.join(str(exc).split())}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path, help="the H.264 .mp4 to write")
    parser.add_argument("--keyframe-s", type=float, default=2.0, help="seconds between keyframes (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        wrote = convert(args.source, args.dest, args.keyframe_s)
    except ConvertError as exc:
        print(f"to_h264: {exc}", file=sys.stderr)
        return 1
    print(f"to_h264: {'wrote' if wrote else 'up to date:'} {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
