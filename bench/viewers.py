"""WHEP viewers for the benchmarks: aiortc receivers that count frames without decoding them.

    python bench/viewers.py --url http://127.0.0.1:8080 --token T --camera cam0 --camera cam1

Each ``--camera`` is one viewer (one peer connection). A real viewer decodes;
decoding 1080p in Python here would starve the server under test of CPU, so
the receivers' decoder is replaced by one that only counts the complete
frames the jitter buffer hands it: everything up to the decoder (ICE, DTLS,
SRTP, RTP depacketising, NACK/PLI, frame assembly) is aiortc's own.

Prints ``READY {"viewers": N, "ttff_s": [...]}`` once every viewer has received a
whole frame. On ``stop`` (a line on stdin) or end of stdin it deletes its
sessions and prints ``STATS [...]``, one object per viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path

import aiortc.rtcrtpreceiver
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.whep_client import make_offer, post_offer


class CountingDecoder:
    """Stands in for aiortc's H.264 decoder: counts whole frames, returns none."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.arrived = threading.Event()

    def decode(self, encoded_frame) -> list:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
            self.arrived.set()
        self.last_at = now
        self.frames += 1
        self.bytes += len(encoded_frame.data)
        return []


class Viewer:
    def __init__(self, http: httpx.AsyncClient, camera: str, decoder: CountingDecoder) -> None:
        self.http = http
        self.camera = camera
        self.decoder = decoder
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.location: str | None = None
        self.posted_at = 0.0

    async def connect(self) -> None:
        offer = await make_offer(self.pc)
        self.posted_at = time.monotonic()
        response = await post_offer(self.http, self.camera, offer)
        if response.status_code != 201:
            raise RuntimeError(f"WHEP POST for {self.camera} answered {response.status_code}: {response.text}")
        self.location = response.headers["location"]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))

    def report(self, since: float) -> dict:
        d = self.decoder
        window = (d.last_at or since) - max(since, d.first_at or since)
        return {
            "camera": self.camera,
            "frames": d.frames,
            "bytes": d.bytes,
            "fps": round(d.frames / window, 2) if window > 0 else None,
            "ttff_s": round(d.first_at - self.posted_at, 4) if d.first_at else None,
            "state": self.pc.connectionState,
        }

    async def close(self) -> None:
        if self.location is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(self.location)
        await self.pc.close()


async def run(args: argparse.Namespace) -> int:
    # one decoder per receiver, made in the receiver's own thread, in the order the viewers connect
    made: list[CountingDecoder] = []
    pending: list[CountingDecoder] = []
    lock = threading.Lock()

    def get_decoder(codec):
        with lock:
            return pending.pop(0) if pending else CountingDecoder()

    aiortc.rtcrtpreceiver.get_decoder = get_decoder
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    viewers: list[Viewer] = []
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=30) as http:
        try:
            for camera in args.camera:
                decoder = CountingDecoder()
                with lock:
                    pending.append(decoder)
                made.append(decoder)
                viewer = Viewer(http, camera, decoder)
                viewers.append(viewer)
                await viewer.connect()
                # the next viewer's decoder is handed out only once this one's thread took its own
                deadline = time.monotonic() + args.timeout
                while decoder in pending and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            deadline = time.monotonic() + args.timeout
            while not all(v.decoder.first_at for v in viewers):
                if time.monotonic() > deadline:
                    late = [v.camera for v in viewers if not v.decoder.first_at]
                    print(f"FAILED no frame within {args.timeout:g} s for {late}", flush=True)
                    return 1
                await asyncio.sleep(0.05)
            print("READY " + json.dumps({"viewers": len(viewers), "ttff_s": [v.report(0)["ttff_s"] for v in viewers]}),
                  flush=True)
            since = time.monotonic()
            await asyncio.to_thread(sys.stdin.readline)
            print("STATS " + json.dumps([v.report(since) for v in viewers]), flush=True)
        finally:
            await asyncio.gather(*(v.close() for v in viewers), return_exceptions=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the server's base URL")
    ap.add_argument("--token", default="", help="bearer token")
    ap.add_argument("--camera", action="append", required=True, help="one viewer of this camera (repeatable)")
    ap.add_argument("--timeout", type=float, default=30.0)
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
