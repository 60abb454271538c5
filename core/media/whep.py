"""WHEP sessions (RFC 9725): one aiortc peer connection per viewer, packets passed through.

A session reads one subscription of the camera's multiplexer through a
:class:`PacketTrack`: H.264 passes through. What the browser cannot take is
read from a transcoder shared by every viewer of that stream and codec
(:mod:`core.media.transcode`): an H.265 camera becomes H.264, and a browser
without H.264 (stock Firefox without OpenH264) gets VP8. The
answer carries every ICE candidate (no trickle). A session ends on DELETE, on
ICE failure, when it never connects, and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from core.errors import Refused
from core.media.mux import SubscriptionClosed
from core.media.rtc_track import PacketTrack
from core.media.transcode import TranscodeHub
from core.media.whep_guard import OfferLimits, screen_offer
from core.media.whep_sdp import OfferError, VideoChoice, profile_level_id_from_sps, read_offer

log = logging.getLogger("bconnect.webrtc")

CONNECT_TIMEOUT_S = 8.0  # an answered offer whose ICE/DTLS is not up by then frees its slot
DISCONNECTED_GRACE_S = 8.0
VIEWER_QUEUE = 256  # packets; a slower viewer skips to the next keyframe
_END_OF_CANDIDATES = re.compile(r"^a=end-of-candidates\r?\n", re.MULTILINE)


class WhepRefused(Refused):
    """A viewing request the service will not serve; ``status``, ``reason`` and ``headers`` go to the client."""


@dataclass
class WhepSession:
    id: str
    camera_id: str
    user: str
    pc: RTCPeerConnection
    track: PacketTrack
    transcoded_to: str | None  # the target codec of its shared transcoder; None: pass-through
    stream_key: str = ""  # what its transcoder, if any, is held under
    codec: str = "h264"  # what it sends
    created: float = field(default_factory=time.time)
    connected_at: float | None = None
    closing: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def transcoded(self) -> bool:
        return self.transcoded_to is not None

    def describe(self) -> dict[str, Any]:
        delays = sorted(self.track.delays)

        def pct(p: float) -> float | None:
            return round(delays[min(len(delays) - 1, int(p * len(delays)))] * 1000, 2) if delays else None

        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "user": self.user,
            "state": self.pc.connectionState,
            "transcoded": self.transcoded,
            "codec": self.codec,
            "created": self.created,
            "connected_at": self.connected_at,
            "packets_sent": self.track.sent,
            "packets_skipped": self.track.skipped,
            "keyframe_requests": self.track.keyframe_requests,
            "gop_replays": self.track.replays,
            "packets_dropped": getattr(self.track.source, "dropped", 0),
            "delay_p50_ms": pct(0.5),
            "delay_p99_ms": pct(0.99),
        }


class WhepService:
    """The WHEP sessions of one app, with the deployment's viewer limits."""

    def __init__(
        self,
        *,
        max_per_camera: int,
        max_total: int,
        max_per_user: int = 16,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        offer_limits: OfferLimits | None = None,
        transcodes: TranscodeHub | None = None,
    ) -> None:
        self.max_per_camera = max_per_camera
        self.max_total = max_total
        self.max_per_user = max_per_user
        self.connect_timeout_s = connect_timeout_s
        self.offer_limits = offer_limits or OfferLimits()
        self.transcodes = transcodes or TranscodeHub()
        self.sessions: dict[str, WhepSession] = {}
        # slots held from the start of a POST, so concurrent offers cannot overshoot
        self._held: dict[str, int] = {}
        self._held_by_user: dict[str, int] = {}
        self._closed = False

    # --- counting ------------------------------------------------------------

    def count(self, camera_id: str | None = None) -> int:
        if camera_id is None:
            return sum(self._held.values())
        return self._held.get(camera_id, 0)

    def check_user(self, user: str) -> None:
        """:class:`WhepRefused` (429) if ``user`` holds all the sessions a user may; before any work for them."""
        if self._held_by_user.get(user, 0) >= self.max_per_user:
            # One viewer's offers must not take everyone's slots. A grid that switches
            # pages DELETEs its old sessions as it posts new ones: retry soon.
            raise WhepRefused(
                429, f"viewer limit reached: {self.max_per_user} live views per user; close one first", {"Retry-After": "1"}
            )

    def _hold(self, camera_id: str, user: str) -> None:
        if self._closed:
            raise WhepRefused(503, "server is shutting down")
        self.check_user(user)
        if self.count() >= self.max_total:
            raise WhepRefused(
                503, f"viewer limit reached: {self.max_total} viewers in total", {"Retry-After": "10"}
            )
        if self.count(camera_id) >= self.max_per_camera:
            raise WhepRefused(
                503,
                f"viewer limit reached: {self.max_per_camera} viewers of camera {camera_id!r}",
                {"Retry-After": "10"},
            )
        self._held[camera_id] = self._held.get(camera_id, 0) + 1
        self._held_by_user[user] = self._held_by_user.get(user, 0) + 1

    def _unhold(self, camera_id: str, user: str) -> None:
        for counts, key in ((self._held, camera_id), (self._held_by_user, user)):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)

    # --- sessions ------------------------------------------------------------

    async def open(self, camera: Any, offer: str, user: str, *, start: str = "gop") -> tuple[WhepSession, str]:
        """Answer ``offer`` for ``camera`` (a registry ``CameraRuntime``).

        ``start="gop"`` begins with the camera's GOP cache (a picture at once);
        ``"live"`` waits for the camera's next keyframe, as without a cache.

        :return: the session and the SDP answer.
        :raises WhepRefused: 400 for an unusable offer, 503 beyond the limits
            or while the camera has sent no video yet.
        """
        camera_id = camera.info.id
        stream_key = camera.stream_key  # the camera, or one of its streams (main, sub): what a transcoder serves
        try:
            offer = screen_offer(offer, self.offer_limits).offer  # cheap: refuse what no viewer needs first
            # aiortc's parser is pure Python: a large offer is parsed off the event loop
            wanted = (await asyncio.to_thread(read_offer, offer, None)).target
        except OfferError as exc:
            raise WhepRefused(400, str(exc)) from None
        info = camera.mux.stream_info
        if info is None:
            raise WhepRefused(503, f"camera {camera_id!r} has sent no video yet", {"Retry-After": "2"})
        if info.codec not in ("h264", "hevc"):
            raise WhepRefused(503, f"camera {camera_id!r} sends {info.codec}, which cannot be streamed")
        self._hold(camera_id, user)
        # H.264 to an H.264 browser passes through; anything else is transcoded, once per stream and codec
        transcode_to = None if (wanted, info.codec) == ("h264", "h264") else wanted
        source: Any = camera.mux
        pc: RTCPeerConnection | None = None
        track: PacketTrack | None = None
        try:
            if transcode_to:
                transcoder = self.transcodes.acquire(stream_key, transcode_to, camera.mux, camera_id=camera_id)
                if not await transcoder.ready():
                    raise WhepRefused(503, f"camera {camera_id!r}: {transcoder.name} transcoding has not started yet",
                                      {"Retry-After": "2"})
                profile = transcoder.profile_level_id
                source = transcoder
            else:
                profile = info.profile_level_id or profile_level_id_from_sps(info.parameter_sets)
            try:
                choice = await asyncio.to_thread(read_offer, offer, profile)
            except OfferError as exc:
                raise WhepRefused(400, str(exc)) from None
            session_id = secrets.token_urlsafe(18)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            try:
                subscription = source.subscribe(f"whep:{session_id}", maxsize=VIEWER_QUEUE, start=start)
            except SubscriptionClosed:  # the stream closed meanwhile (an idle sub stream, a removed camera)
                raise WhepRefused(503, f"camera {camera_id!r}: the stream closed; try again", {"Retry-After": "2"})
            track = PacketTrack(subscription, name=session_id)
            answer = await self._negotiate(pc, track, choice)
        except BaseException:
            if track is not None:
                track.stop()
            if pc is not None:
                await pc.close()
            if transcode_to:
                await self.transcodes.release(stream_key, transcode_to)
            self._unhold(camera_id, user)
            raise
        session = WhepSession(session_id, camera_id, user, pc, track, transcode_to, stream_key, choice.target)
        self.sessions[session_id] = session
        self._watch(session)
        log.info(
            "whep session %s: %s watches %s (%s, %s%s)",
            session_id[:8], user, camera_id, f"transcoded to {transcode_to}" if transcode_to else "passthrough",
            f"profile {choice.codec.parameters['profile-level-id']}" if choice.target == "h264" else choice.target,
            "" if choice.exact else ", nearest offered",
        )
        return session, answer

    async def _negotiate(self, pc: RTCPeerConnection, track: PacketTrack, choice: VideoChoice) -> str:
        # Firefox hides its addresses behind mDNS names (.local) and ends its offer
        # with a=end-of-candidates. When none of those names resolves here (any
        # routed network), aioice then drops every ICE component and gathers
        # nothing: an answer without a candidate. Left open, the browser's
        # checks still arrive and become peer-reflexive candidates.
        offer = _END_OF_CANDIDATES.sub("", choice.offer_for_aiortc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except Exception as exc:  # aiortc's reasons name its internals (``None is not in list``)
            log.info("whep offer refused by aiortc: %s: %s", type(exc).__name__, exc)
            raise WhepRefused(400, "SDP offer refused: its media sections cannot be answered (check a=mid, "
                                   "a=group:BUNDLE and the codecs)") from None
        transceiver = next(
            (t for t in pc.getTransceivers() if t.kind == "video" and t.mid == choice.mid), None
        )
        if transceiver is None:
            raise WhepRefused(400, "SDP offer: video m-line has no usable mid")
        # aiortc negotiated one of its own two H.264 codecs (or its VP8); answer
        # (and send) with the one read_offer chose, which names the camera's profile.
        transceiver._codecs = choice.codecs
        transceiver.sender.replaceTrack(track)
        # aiortc answers a PLI/FIR by asking its encoder for a keyframe; there is
        # no encoder in pass-through, so the track answers it (GOP replay).
        # tests/test_whep.py fails if an aiortc release stops calling this.
        transceiver.sender._send_keyframe = track.request_keyframe
        transceiver.direction = "sendonly"
        try:
            answer = await pc.createAnswer()
        except Exception as exc:  # an offer aiortc took but cannot answer (it asserts on odd sections)
            log.info("whep offer not answerable by aiortc: %s: %s", type(exc).__name__, exc)
            raise WhepRefused(400, "SDP offer refused: its media sections cannot be answered") from None
        await pc.setLocalDescription(answer)  # gathers every candidate first
        return pc.localDescription.sdp

    def _watch(self, session: WhepSession) -> None:
        loop = asyncio.get_running_loop()

        def close_later(reason: str) -> None:
            if not session.closing:
                loop.create_task(self.close(session.id, reason))

        def check_connected() -> None:
            if session.pc.connectionState != "connected":
                close_later("never connected")

        @session.pc.on("connectionstatechange")
        def on_state() -> None:
            state = session.pc.connectionState
            if state == "connected":
                session.connected_at = session.connected_at or time.time()
            elif state in ("failed", "closed"):
                close_later(f"connection {state}")
            elif state == "disconnected":
                session.timers.append(loop.call_later(DISCONNECTED_GRACE_S, check_connected))

        # the camera was removed (its multiplexer closed) or the sender stopped
        session.track.on("ended", lambda: close_later("track ended"))
        session.timers.append(loop.call_later(self.connect_timeout_s, check_connected))

    async def close(self, session_id: str, reason: str = "closed") -> bool:
        """Close one session; ``False`` if there is none by that id."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.closing = True
        for timer in session.timers:
            timer.cancel()
        session.track.stop()
        with contextlib.suppress(Exception):
            await session.pc.close()
        if session.transcoded_to:
            await self.transcodes.release(session.stream_key, session.transcoded_to)
        self._unhold(session.camera_id, session.user)
        log.info("whep session %s of %s closed: %s", session_id[:8], session.camera_id, reason)
        return True

    async def close_all(self) -> None:
        self._closed = True
        await asyncio.gather(*(self.close(sid, "shutdown") for sid in list(self.sessions)))
        await self.transcodes.close()

    def describe(self) -> dict[str, Any]:
        per_camera: dict[str, int] = {}
        for s in self.sessions.values():
            per_camera[s.camera_id] = per_camera.get(s.camera_id, 0) + 1
        return {
            "sessions": len(self.sessions),
            "max_viewers_total": self.max_total,
            "max_viewers_per_camera": self.max_per_camera,
            "max_sessions_per_user": self.max_per_user,
            "per_camera": per_camera,
            "transcoding": self.transcodes.active(),
        }
