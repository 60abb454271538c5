"""A WebRTC video track that passes a camera's packets through, never decoding.

aiortc's ``RTCRtpSender`` accepts ``av.Packet`` objects from a track and only
packetises them (``H264Encoder.pack``): no encoder runs per viewer. This track
turns the multiplexer's :class:`~core.media.packets.MediaPacket` stream into
such packets on the 90 kHz RTP clock.

Timing rules, each for a reason:

* A new viewer starts from the GOP cache. Those packets are old; sent with
  their real spacing, the browser would play the cached GOP in real time and
  stay that far behind live for good. So packets that arrive late ("catching
  up") get timestamps 1 ms apart: the browser decodes them at once and shows
  the live edge.
* Timestamps stay monotonic across camera reconnects (the generation bumps and
  the camera's clock restarts): the output is re-anchored on the last
  timestamp sent plus the wall-clock gap.
* After a start or a reconnect, nothing is sent before a keyframe, which
  carries SPS/PPS: a browser cannot decode from a P-frame.
* A viewer that lost its picture asks for a keyframe (RTCP PLI or FIR). The
  camera's encoder is not ours to ask, so the track replays the camera's
  latest keyframe and the frames since (the GOP cache) at catch-up pace: the
  picture is back within a round trip instead of at the camera's next
  keyframe, seconds later. At most one replay per ``REPLAY_MIN_INTERVAL_S``.

Delay is measured from the packet's arrival (demux) to the moment the sender
has sent its last RTP packet: aiortc's sender packs and sends a whole frame,
then asks the track for the next one, so the next ``recv`` call marks the end
of the previous frame's sending.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import time
from typing import Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from core.media.packets import MediaPacket

log = logging.getLogger("bconnect.webrtc")

RTP_CLOCK = 90_000
RTP_TIME_BASE = fractions.Fraction(1, RTP_CLOCK)
CATCH_UP_LAG_S = 0.15  # a packet older than this on arrival here is cache, not live
CATCH_UP_STEP = RTP_CLOCK // 1000  # 1 ms between cached frames
MAX_JUMP_S = 10.0  # a larger jump in the camera's clock is a discontinuity
DELAY_SAMPLES = 2048
REPLAY_MIN_INTERVAL_S = 1.0  # browsers repeat a PLI until they decode; one replay answers a burst
REPLAY_MAX_AGE_S = 2.0  # a GOP cache whose newest packet is older is a camera that is down: not replayed


class PacketSource(Protocol):
    """What the track reads: a mux or transcoder subscription."""

    async def get(self) -> MediaPacket: ...

    def replay_gop(self, max_age_s: float | None = None) -> bool: ...

    def close(self) -> None: ...


class RtpClock:
    """Maps camera timestamps to a monotonic 90 kHz timeline."""

    def __init__(self) -> None:
        self.last_out: int | None = None
        self.last_src: int | None = None
        self.last_wall: float = 0.0
        self.offset = 0
        self.generation: int | None = None

    def stamp(self, packet: MediaPacket, *, catching_up: bool, now: float) -> int:
        src = _to_rtp(packet)
        if self.last_out is None:
            out = 0
        elif catching_up:
            out = self.last_out + CATCH_UP_STEP
        elif src is None or self.last_src is None or packet.generation != self.generation:
            out = self._after_gap(now)
        else:
            out = src + self.offset
            if not 0 < out - self.last_out <= MAX_JUMP_S * RTP_CLOCK:
                # the camera's clock went back or leapt: carry on from wall time
                out = self._after_gap(now)
        if src is not None:
            self.offset = out - src
        self.last_out = out
        self.last_src = src
        self.last_wall = now
        self.generation = packet.generation
        return out

    def _after_gap(self, now: float) -> int:
        assert self.last_out is not None
        gap = max(CATCH_UP_STEP, int((now - self.last_wall) * RTP_CLOCK))
        return self.last_out + gap


def _to_rtp(packet: MediaPacket) -> int | None:
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None:
        return None
    if packet.time_base == RTP_TIME_BASE:  # the ingest's clock: no Fraction arithmetic per frame and viewer
        return ts
    return int(ts * packet.time_base * RTP_CLOCK)


class PacketTrack(MediaStreamTrack):
    """A video track fed by one subscription; ``recv`` returns ``av.Packet``."""

    kind = "video"

    def __init__(self, source: PacketSource, *, name: str = "") -> None:
        super().__init__()
        self.source = source
        self.name = name
        self.clock = RtpClock()
        self.need_keyframe = True
        self.generation: int | None = None
        self.started: float | None = None  # the sender's first read: the connection is up
        self.sent = 0
        self.skipped = 0
        self.keyframe_requests = 0
        self.replays = 0
        self._replay_wanted = False
        self._last_replay = -REPLAY_MIN_INTERVAL_S
        # packet arrival (demux) to its last RTP packet sent, for packets that
        # arrived once the sender reads (the GOP cache and set-up time are not delay)
        self.delays: collections.deque[float] = collections.deque(maxlen=DELAY_SAMPLES)
        self._in_sender: float | None = None  # arrival of the packet the sender is sending
        self._measure_from = 0.0  # packets that arrived before this are cache or replay, not delay

    def request_keyframe(self) -> None:
        """The viewer asked for a keyframe (called by the RTP sender on PLI/FIR)."""
        self.keyframe_requests += 1
        self._replay_wanted = True

    async def recv(self) -> av.Packet:
        now = time.monotonic()
        if self._in_sender is not None:
            self.delays.append(now - self._in_sender)  # the previous frame is now sent
            self._in_sender = None
        if self.readyState != "live":
            raise MediaStreamError
        if self.started is None:
            # the first read sends the GOP cache anyway: no replay during it
            self.started = self._measure_from = self._last_replay = now
        if self._replay_wanted:
            self._replay_wanted = False
            if now - self._last_replay >= REPLAY_MIN_INTERVAL_S and self.source.replay_gop(REPLAY_MAX_AGE_S):
                self._last_replay = self._measure_from = now
                self.replays += 1
                self.need_keyframe = True
        while True:
            try:
                packet = await self.source.get()
            except (asyncio.CancelledError, MediaStreamError):
                raise
            except Exception as exc:  # the subscription was closed under us
                self.stop()
                raise MediaStreamError(str(exc)) from exc
            if packet.generation != self.generation:
                self.generation = packet.generation
                self.need_keyframe = True
            if self.need_keyframe and not packet.keyframe:
                self.skipped += 1
                continue
            self.need_keyframe = False
            break
        now = time.monotonic()
        lag = now - packet.arrival
        catching_up = lag > CATCH_UP_LAG_S
        if catching_up:
            # the sender packs and sends each frame without yielding: let the
            # other viewers' live frames through between the cached ones
            await asyncio.sleep(0)
        out = av.Packet(packet.data)
        out.pts = self.clock.stamp(packet, catching_up=catching_up, now=now)
        out.time_base = RTP_TIME_BASE
        self.sent += 1
        if packet.arrival >= self._measure_from:
            self._in_sender = packet.arrival
        return out

    def stop(self) -> None:
        if self.readyState == "live":
            self.source.close()
        super().stop()
