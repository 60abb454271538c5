#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's gst-rtsp-server serving H.264 (and H.265).

Runs under the *system* python (``/usr/bin/python3``), which has the ``gi``
bindings; the project's virtualenv does not. Started and stopped by the
``rtsp_server`` fixture of :mod:`core.testing.rtsp`.

Each ``--mount NAME:CODEC:KEYINT[:inband]`` serves a live test pattern at
``rtsp://127.0.0.1:PORT/NAME``. ``KEYINT`` is the keyframe interval in frames.
Without ``inband`` the parameter sets travel only in the SDP
(``sprop-parameter-sets``), as many cameras do; with it they precede every
keyframe. ``--auth USER:PASSWORD`` asks every client for those credentials
(RTSP basic auth), as a camera does. Prints ``READY <port>`` on stdout once it listens.

``SIGUSR1`` freezes every test pattern: the encoder gets no more pictures, as a
camera whose encoder hung, while its RTSP sessions live on (RTCP reports,
keep-alive answers). ``SIGUSR2`` lets the pictures through again.

x264 runs with one slice per frame and without repeated headers, so that
``rtph264pay config-interval`` alone decides where SPS/PPS travel.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODERS = {
    "h264": (
        "x264enc tune=zerolatency sliced-threads=false option-string=repeat-headers=0 speed-preset=ultrafast bitrate={kbps} key-int-max={keyint} "
        "! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval={ci}"
    ),
    "h265": (
        "x265enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max={keyint} "
        "! rtph265pay name=pay0 pt=96 config-interval={ci}"
    ),
}


def launch_line(codec: str, keyint: int, inband: bool, width: int, height: int, fps: int, kbps: int) -> str:
    src = (
        f"videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate={fps}/1"
        " ! valve name=gate drop=false"
    )
    enc = ENCODERS[codec].format(kbps=kbps, keyint=keyint, ci=-1 if inband else 0)
    return f"( {src} ! {enc} )"


def parse_mount(text: str) -> tuple[str, str, int, bool]:
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[1] not in ENCODERS or (len(parts) == 4 and parts[3] != "inband"):
        raise argparse.ArgumentTypeError(f"mount {text!r}: want NAME:h264|h265:KEYINT[:inband]")
    return parts[0], parts[1], int(parts[2]), len(parts) == 4


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mount", type=parse_mount, action="append", default=[])
    ap.add_argument("--file", action="append", default=[], metavar="NAME=PATH",
                    help="serve an H.264 MP4 at its own rate, from its start, encoded again as a camera would")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--kbps", type=int, default=800)
    ap.add_argument("--auth", metavar="USER:PASSWORD", help="require these credentials (RTSP basic auth)")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    if args.auth:
        user, _, password = args.auth.partition(":")
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth = GstRtspServer.RTSPAuth()
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
    gates: list = []  # each prepared pattern's valve, for SIGUSR1 and SIGUSR2
    frozen = [False]

    def configure(_factory, media) -> None:
        gate = media.get_element().get_by_name("gate")
        gate.set_property("drop", frozen[0])
        gates.append(gate)
        media.connect("unprepared", lambda *_: gates.remove(gate) if gate in gates else None)

    def set_frozen(value: bool) -> bool:
        frozen[0] = value
        for gate in gates:
            gate.set_property("drop", value)
        print("FROZEN" if value else "THAWED", flush=True)
        return True

    for name, codec, keyint, inband in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(codec, keyint, inband, args.width, args.height, args.fps, args.kbps))
        factory.set_shared(True)  # one encoder per mount, however many clients
        factory.connect("media-configure", configure)
        if args.auth:
            role = "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            factory.add_role_from_structure(Gst.Structure.from_string(role)[0])
        mounts.add_factory("/" + name, factory)
    for spec in args.file:
        name, _, path = spec.partition("=")
        factory = GstRtspServer.RTSPMediaFactory()
        # decoded and encoded again as a camera's encoder would (keyframe each second, parameter sets in band):
        # the file's own H.264 passed through arrived with grey, unrefreshed areas in the frame hub's pictures
        enc = ENCODERS["h264"].format(kbps=args.kbps, keyint=args.fps, ci=-1)
        factory.set_launch(f"( filesrc location={path} ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! {enc} )")
        factory.set_shared(True)
        mounts.add_factory("/" + name, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr, flush=True)
        return 2

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, set_frozen, True)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR2, set_frozen, False)
    parent = os.getppid()

    def orphaned() -> bool:
        # the test run that started us is gone (killed, crashed): do not linger
        if os.getppid() != parent:
            loop.quit()
            return False
        return True

    GLib.timeout_add_seconds(1, orphaned)
    print(f"READY {args.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
