"""An aiortc WHEP viewer (receive-only video) for tests and benchmarks.

    async with httpx.AsyncClient(base_url=url, headers=auth) as http:
        viewer = WhepViewer(http, "cam1")
        await viewer.connect()
        await viewer.wait_frames(10)
        print(viewer.width, viewer.height)
        await viewer.close()

It decodes what it receives (aiortc's H.264 decoder), so a test sees real
pictures, not just bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

SDP = "application/sdp"


async def make_offer(pc: RTCPeerConnection) -> str:
    """A complete recvonly video offer (every candidate gathered)."""
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def post_offer(
    http: httpx.AsyncClient, camera_id: str, sdp: str, *, params: dict[str, str] | None = None, **headers: str
) -> httpx.Response:
    return await http.post(
        f"/api/cameras/{camera_id}/whep", content=sdp.encode(), params=params, headers={"Content-Type": SDP, **headers}
    )


class PreferringPeer(RTCPeerConnection):
    """A peer whose video transceivers offer only ``mime`` (e.g. "video/vp8"), like a browser without H.264."""

    def __init__(self, mime: str) -> None:
        super().__init__(RTCConfiguration(iceServers=[]))
        self.mime = mime

    def addTransceiver(self, *args, **kwargs):  # noqa: N802  (aiortc's name)
        transceiver = super().addTransceiver(*args, **kwargs)
        caps = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == self.mime])
        return transceiver


class WhepError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"WHEP POST answered {response.status_code}: {response.text}")
        self.response = response


class WhepViewer:
    def __init__(
        self,
        http: httpx.AsyncClient,
        camera_id: str,
        *,
        headers: dict[str, str] | None = None,
        start: str | None = None,
        stream: str | None = None,
    ) -> None:
        self.http = http
        self.camera_id = camera_id
        self.headers = headers or {}
        self.start = start  # ?start= on the POST: "gop" (the server's default) or "live"
        self.stream = stream  # ?stream= on the POST: "main" (the server's default) or "sub"
        self.keyframes_at: list[float] = []  # when each decoded keyframe came out
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.location: str | None = None
        self.answer: str | None = None
        self.frames = 0
        self.width: int | None = None
        self.height: int | None = None
        self.posted_at: float | None = None
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self._frame_event = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def ttff(self) -> float | None:
        """Seconds from the WHEP POST to the first decoded frame."""
        if self.posted_at is None or self.first_frame_at is None:
            return None
        return self.first_frame_at - self.posted_at

    async def connect(self) -> None:
        """Offer, post, apply the answer; raise :class:`WhepError` unless 201."""

        @self.pc.on("track")
        def on_track(track) -> None:
            self._reader = asyncio.ensure_future(self._read(track))

        offer = await make_offer(self.pc)
        self.posted_at = time.monotonic()
        params = {k: v for k, v in (("start", self.start), ("stream", self.stream)) if v} or None
        response = await post_offer(self.http, self.camera_id, offer, params=params, **self.headers)
        if response.status_code != 201:
            await self.pc.close()
            raise WhepError(response)
        self.location = response.headers["location"]
        self.answer = response.text
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=self.answer, type="answer"))

    async def _read(self, track) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                self.last_frame_at = now
                self.frames += 1
                if frame.key_frame:
                    self.keyframes_at.append(now)
                self.width, self.height = frame.width, frame.height
                self._frame_event.set()

    async def wait_frames(self, count: int, timeout: float = 15.0) -> int:
        """Wait until ``count`` more frames were decoded; return the total."""
        target = self.frames + count
        deadline = time.monotonic() + timeout
        while self.frames < target:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{self.frames - (target - count)} of {count} frames within {timeout}s"
                    f" (connection {self.pc.connectionState})"
                )
            self._frame_event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._frame_event.wait(), left)
        return self.frames

    async def delete(self) -> httpx.Response:
        assert self.location is not None
        return await self.http.delete(self.location, headers=self.headers)

    async def close(self) -> None:
        if self.location is not None:
            with contextlib.suppress(httpx.HTTPError):
                await self.delete()
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()
