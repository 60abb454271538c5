"""The baseline B-Connect is measured against: aiortc's own pass-through, served over WHEP.

    python bench/baseline.py --port 8081 --camera cam0=rtsp://127.0.0.1:8554/cam0 ...

One ``MediaPlayer(url, decode=False)`` per camera (RTSP over TCP), one
``MediaRelay`` per camera fanning its packets out to the viewers, exactly as
aiortc's examples suggest. A camera is always read, watched or not (a sink
subscribes to each relay), since a VMS ingests every camera all the time;
B-Connect does the same. Viewers ``POST /api/cameras/{id}/whep`` with an SDP
offer, as they would to B-Connect, and get H.264 packets passed through.

Prints ``READY <port>`` once every camera delivers packets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time

import uvicorn
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Baseline:
    def __init__(self, cameras: dict[str, str]) -> None:
        self.urls = cameras
        self.players: dict[str, MediaPlayer] = {}
        self.relays: dict[str, MediaRelay] = {}
        self.sessions: dict[str, RTCPeerConnection] = {}
        self.packets: dict[str, int] = {}
        self._sinks: list[asyncio.Task] = []

    async def start(self, timeout: float = 60.0) -> None:
        async def open_one(cid: str, url: str) -> None:
            # MediaPlayer opens the stream in its constructor: keep that off the loop. No
            # timeout=: as aiortc's examples, and PyAV's read timeout would cost GIL time.
            player = await asyncio.to_thread(MediaPlayer, url, decode=False, options={"rtsp_transport": "tcp"})
            self.players[cid] = player
            self.relays[cid] = MediaRelay()
            self.packets[cid] = 0
            self._sinks.append(asyncio.create_task(self._sink(cid)))

        await asyncio.gather(*(open_one(cid, url) for cid, url in self.urls.items()))
        deadline = time.monotonic() + timeout
        while not all(self.packets.values()):
            if time.monotonic() > deadline:
                raise TimeoutError("baseline cameras sent no packets")
            await asyncio.sleep(0.1)

    async def _sink(self, cid: str) -> None:
        track = self.relays[cid].subscribe(self.players[cid].video, buffered=False)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                self.packets[cid] += 1

    async def whep(self, request: Request) -> Response:
        cid = request.path_params["camera_id"]
        if cid not in self.players:
            return Response(f"no camera {cid!r}", 404)
        offer = (await request.body()).decode()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        pc.addTrack(self.relays[cid].subscribe(self.players[cid].video, buffered=False))
        h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() in ("video/h264", "video/rtx")]
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(h264)  # packets pass through: H.264 only
        await pc.setLocalDescription(await pc.createAnswer())
        sid = secrets.token_urlsafe(12)
        self.sessions[sid] = pc
        return Response(pc.localDescription.sdp, 201, media_type="application/sdp",
                        headers={"Location": f"/api/cameras/{cid}/whep/{sid}"})

    async def delete(self, request: Request) -> Response:
        pc = self.sessions.pop(request.path_params["session_id"], None)
        if pc is None:
            return Response("no such session", 404)
        await pc.close()
        return Response(status_code=200)

    async def close(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.sessions.values()), return_exceptions=True)
        for task in self._sinks:
            task.cancel()
        for player in self.players.values():
            if player.video is not None:
                player.video.stop()


async def run(args: argparse.Namespace) -> int:
    cameras = dict(spec.split("=", 1) for spec in args.camera)
    baseline = Baseline(cameras)
    await baseline.start()
    app = Starlette(routes=[
        Route("/api/cameras/{camera_id}/whep", baseline.whep, methods=["POST"]),
        Route("/api/cameras/{camera_id}/whep/{session_id}", baseline.delete, methods=["DELETE"]),
    ])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))
    serving = asyncio.create_task(server.serve())  # uvicorn ends it on SIGTERM
    while not server.started:
        if serving.done():
            return 1
        await asyncio.sleep(0.05)
    print(f"READY {args.port}", flush=True)
    await serving
    await baseline.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--camera", action="append", required=True, help="ID=RTSP_URL (repeatable)")
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
