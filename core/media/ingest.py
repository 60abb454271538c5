"""Ingest: one PyAV connection per camera, in its own thread, packets to the loop.

The thread opens the stream once, demuxes H.264/H.265 without decoding,
normalises each packet to Annex-B with parameter sets in front of every
keyframe, maps timestamps onto one monotonic 90 kHz timeline, and hands the
packets to the event loop in batches (:class:`LoopHandoff`). When the stream
is lost it reconnects with exponential backoff and full jitter.

Per packet the thread does one copy (the ``av.Packet`` into ``bytes``, which
the packet's consumers then share), a few integer operations and one append
under a lock; it never logs per packet.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import av
import av.bitstream

from core.interfaces import StreamSource, redact_url
from core.media.bitstream import (
    CODECS,
    BitstreamError,
    ensure_parameter_sets,
    extradata_parameter_sets,
    is_length_prefixed,
    parameter_sets_in,
    parse_sps,
)
from core.media.packets import CameraState, CameraStatus, MediaPacket, StreamInfo

log = logging.getLogger("bconnect.ingest")

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)  # every packet leaves the ingest on this clock
NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")


@dataclass(frozen=True)
class IngestSettings:
    open_timeout_s: float = 20.0  # connect, describe, and wait for the first keyframe
    stall_timeout_s: float = 10.0  # no packet for this long: the stream is lost
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    healthy_after_s: float = 30.0  # online this long: the next loss starts the backoff afresh
    offline_after_s: float = 20.0  # reconnecting this long (or never online): offline
    max_jump_s: float = 5.0  # a larger timestamp step is a discontinuity (camera restart, wrap)
    ring_seconds: float = 10.0  # pre-roll kept per camera
    max_pending: int = 2000  # packets waiting for the loop, over all cameras, before dropping


# --- credentials ---------------------------------------------------------------


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]*@")


def mask(text: str, source: StreamSource | None = None) -> str:
    """``text`` without any credentials: userinfo in URLs, the source's password."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    if source is not None:
        for secret in (source.password, quote(source.password, safe="") if source.password else None):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
    return text


def url_with_credentials(source: StreamSource) -> str:
    """The URL to open; built only inside the ingest thread, never logged."""
    if not source.username:
        return source.url
    parts = urlsplit(source.url)
    if parts.scheme not in NETWORK_SCHEMES:
        return source.url
    userinfo = quote(source.username, safe="")
    if source.password is not None:
        userinfo += ":" + quote(source.password, safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def scheme_of(url: str) -> str:
    """``rtsp``, ``rtsps``, ``http``, ``https`` or ``file``; ``ValueError`` otherwise."""
    if "://" not in url:
        return "file"
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file" or scheme in NETWORK_SCHEMES:
        return scheme
    raise ValueError(f"unsupported URL scheme {scheme!r}: use rtsp, rtsps, http(s) or a file path")


def open_options(source: StreamSource, settings: IngestSettings) -> dict[str, str]:
    scheme = scheme_of(source.url)
    opts: dict[str, str] = {}
    socket_timeout_us = str(int(settings.stall_timeout_s * 1_000_000))
    if scheme in ("rtsp", "rtsps"):
        opts = {"rtsp_transport": source.transport, "timeout": socket_timeout_us, "allowed_media_types": "video"}
    elif scheme in ("http", "https"):
        opts = {"timeout": socket_timeout_us}
    opts.update(source.options)
    return opts


# --- the hand-off to the event loop ------------------------------------------


class LoopHandoff:
    """Calls from ingest threads, run on the event loop in batches.

    The first item posted schedules one drain; items posted before it runs
    join the same batch, so a busy loop wakes once for many packets.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_pending: int = 2000) -> None:
        self.loop = loop
        self.max_pending = max_pending
        self.batches = 0
        self.items = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[[Any], None], Any]] = []
        self._scheduled = False
        self.closed = False

    def post(self, func: Callable[[Any], None], arg: Any) -> bool:
        """Queue ``func(arg)`` for the loop; ``False`` if the loop is too far behind."""
        with self._lock:
            if self.closed or len(self._pending) >= self.max_pending:
                return False
            self._pending.append((func, arg))
            if self._scheduled:
                return True
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: the app is stopping
            self.closed = True
            return False
        return True

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        self.batches += 1
        self.items += len(batch)
        for func, arg in batch:
            try:
                func(arg)
            except Exception:
                log.exception("hand-off target %r failed", func)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._pending = []


# --- timestamps ----------------------------------------------------------------


class Timeline:
    """Maps each connection's timestamps onto one monotonic 90 kHz timeline.

    A step backwards or a leap beyond ``max_jump`` (camera restart, 33-bit
    wrap, file loop, reconnect) continues one frame after the last output.
    """

    def __init__(self, max_jump: int) -> None:
        self.max_jump = max_jump
        self.offset = 0
        self.step = CLOCK // 25
        self.last_in: int | None = None
        self.last_out: int | None = None

    def restart(self) -> None:
        """A new connection (or loop): its first timestamp follows the last one out."""
        self.last_in = None

    def map(self, ts: int | None) -> int:
        last_out = self.last_out
        if ts is None:
            out = 0 if last_out is None else last_out + self.step
        else:
            last_in = self.last_in
            if last_in is None or last_out is None:
                self.offset = (0 if last_out is None else last_out + self.step) - ts
            else:
                delta = ts - last_in
                if delta < 0 or delta > self.max_jump:
                    self.offset = last_out + self.step - ts
                elif delta:
                    self.step = delta
            self.last_in = ts
            out = ts + self.offset
        self.last_out = out
        return out


# --- the ingest thread -----------------------------------------------------------


def backoff_delay(attempt: int, settings: IngestSettings, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, full jitter.

    Full jitter spreads the reconnects of many cameras after a shared outage
    (a switch reboot) instead of having them all knock at once.
    """
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2 ** min(attempt - 1, 30))
    return max(0.05, rng.uniform(0, ceiling))


def _resolve(url: str) -> None:
    """Fail with a clear reason when the host name does not resolve (FFmpeg says only "I/O error")."""
    host = urlsplit(url).hostname
    if not host:
        raise StreamFailure(CameraState.ERROR, "the URL has no host")
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise StreamFailure(CameraState.OFFLINE, f"cannot resolve host name {host!r}") from None


class StreamFailure(Exception):
    """Why a connection ended; ``state`` is what the camera shows meanwhile."""

    def __init__(self, state: CameraState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


def classify(exc: BaseException, source: StreamSource, phase: str, settings: IngestSettings) -> StreamFailure:
    """A one-line, credential-free reason and the state it puts the camera in."""
    if isinstance(exc, StreamFailure):
        return exc
    local = "://" not in source.url or source.url.startswith("file://")
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError)):
        if phase == "open":
            why = f"no answer within {settings.open_timeout_s:g} s"
        else:
            why = f"stalled: no packet for {settings.stall_timeout_s:g} s"
        return StreamFailure(CameraState.OFFLINE, why)
    if isinstance(exc, av.error.FFmpegError):
        text = exc.strerror or type(exc).__name__
        if isinstance(exc, av.error.HTTPUnauthorizedError):
            text = "authentication failed (check username and password)"
        elif isinstance(exc, av.error.HTTPForbiddenError):
            text = "access forbidden by the camera"
        elif isinstance(exc, av.error.HTTPNotFoundError):
            text = "stream not found on the camera (check the URL path)"
        elif isinstance(exc, av.error.InvalidDataError):
            text = "not a video stream: invalid data" + (" in the file" if local else " from the server")
            return StreamFailure(CameraState.ERROR, text)
        elif isinstance(exc, av.error.FileNotFoundError):
            return StreamFailure(CameraState.ERROR, "file not found")
        elif isinstance(exc, av.error.EOFError):
            text = "the server closed the stream"
        text = text[:1].lower() + text[1:]
        return StreamFailure(CameraState.OFFLINE, mask(text if phase == "open" else f"stream lost: {text}", source))
    if isinstance(exc, BitstreamError):
        return StreamFailure(CameraState.ERROR, mask(str(exc), source))
    return StreamFailure(CameraState.ERROR, mask(f"{phase}: {type(exc).__name__}: {exc}", source))


class CameraIngest:
    """Connects one camera's stream and keeps it connected, in a thread.

    ``publish`` and ``set_stream_info`` run on the event loop through
    ``handoff``, in order: a :class:`StreamInfo` always arrives before the
    packets it describes. ``status`` and ``last_packet_at`` are written by the
    thread and read anywhere (each a single attribute, replaced whole).
    """

    def __init__(
        self,
        camera_id: str,
        source: StreamSource,
        *,
        handoff: LoopHandoff,
        publish: Callable[[MediaPacket], None],
        set_stream_info: Callable[[StreamInfo], None],
        settings: IngestSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.source = source
        self.handoff = handoff
        self.publish = publish
        self.set_stream_info = set_stream_info
        self.settings = settings or IngestSettings()
        self.rng = rng or random.Random()
        self.safe_url = mask(redact_url(source.url), source)
        self.status = CameraStatus(CameraState.STARTING, None, time.time())
        self.last_packet_at: float | None = None
        self.stream_info: StreamInfo | None = None  # as last sent to the loop
        self.generation = 0
        self.packets = 0
        self.dropped = 0  # packets the loop could not take in time
        self.connects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timeline = Timeline(int(self.settings.max_jump_s * CLOCK))
        self._parameter_sets = b""
        self._online_since: float | None = None  # monotonic, this connection
        self._down_since: float | None = None  # monotonic
        self._ever_online = False
        self._pace_origin: float | None = None

    def __repr__(self) -> str:
        return f"<CameraIngest {self.camera_id!r} {self.safe_url} {self.status.state.value}>"

    # --- control (event loop) -----------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"ingest-{self.camera_id}", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout``; ``True`` if it ended.

        A thread blocked in a network read ends by itself within the stall
        timeout; it is a daemon and publishes nothing once stopped.
        """
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def current_status(self, transcoding: bool = False) -> CameraStatus:
        return dataclasses.replace(self.status, last_packet_at=self.last_packet_at, transcoding=transcoding)

    # --- the thread ---------------------------------------------------------

    def _set_state(self, state: CameraState, reason: str | None, attempts: int) -> None:
        old = self.status
        if old.state == state and old.reason == reason and old.attempts == attempts:
            return
        since = old.since if old.state == state else time.time()
        self.status = CameraStatus(state, reason, since, self.last_packet_at, attempts)
        if old.state != state or old.reason != reason:
            quiet = state in (CameraState.ONLINE, CameraState.RECONNECTING) or self._stop.is_set()
            level = logging.INFO if quiet else logging.WARNING
            log.log(
                level,
                "camera %s %s: %s%s",
                self.camera_id,
                state.value,
                self.safe_url,
                f" ({reason})" if reason else "",
                extra={"camera": self.camera_id, "state": state.value},
            )

    def _run(self) -> None:
        settings = self.settings
        attempts = 0
        replay = False
        while not self._stop.is_set():
            self._online_since = None
            try:
                self._session(replay)
                failure = None
            except Exception as exc:
                failure = classify(exc, self.source, "stream" if self._online_since else "open", settings)
            if self._stop.is_set():
                break
            now = time.monotonic()
            replay = failure is None and self.source.realtime_loop and self._online_since is not None
            if replay:
                continue  # the file ended: play it again, same generation, no pause
            if failure is None:
                failure = StreamFailure(CameraState.OFFLINE, "stream ended")
            if self._online_since is not None:
                self._down_since = now
                if now - self._online_since >= settings.healthy_after_s:
                    attempts = 0
            elif self._down_since is None:
                self._down_since = now
            attempts += 1
            state = failure.state
            if state == CameraState.OFFLINE and self._ever_online and now - self._down_since < settings.offline_after_s:
                state = CameraState.RECONNECTING
            self._set_state(state, failure.reason, attempts)
            self._stop.wait(backoff_delay(attempts, settings, self.rng))
        self._set_state(CameraState.OFFLINE, "stopped", self.status.attempts)

    def _session(self, replay: bool) -> None:
        """One connection: open, then demux until the stream ends or fails."""
        settings = self.settings
        try:
            scheme = scheme_of(self.source.url)
        except ValueError as exc:
            raise StreamFailure(CameraState.ERROR, str(exc)) from None
        if scheme == "file":
            target = self.source.url.removeprefix("file://")
            if not Path(target).is_file():
                raise StreamFailure(CameraState.ERROR, "file not found")
        else:
            _resolve(self.source.url)
            target = url_with_credentials(self.source)
        container = av.open(
            target,
            options=open_options(self.source, settings),
            # No PyAV read timeout: its interrupt callback takes the GIL on every
            # socket read (~100k times a second for 53 cameras). FFmpeg's socket
            # timeout (open_options) bounds reads instead, without the GIL.
            timeout=(settings.open_timeout_s, None),
        )
        del target
        try:
            if not container.streams.video:
                raise StreamFailure(CameraState.ERROR, "no video stream in the source")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in CODECS:
                raise StreamFailure(
                    CameraState.ERROR, f"unsupported codec {codec}: B-Connect takes H.264 or H.265 without re-encoding"
                )
            if not replay:  # a new connection: nothing learnt from the last one holds
                self.generation += 1
                self.stream_info = None
                self._parameter_sets = b""
                self._pace_origin = None
            self._timeline.restart()
            self._demux(container, stream, codec, paced=scheme == "file")
        finally:
            container.close()

    def _demux(self, container: Any, stream: Any, codec: str, paced: bool) -> None:
        cc = stream.codec_context
        bsf = None
        if is_length_prefixed(cc.extradata):
            bsf = av.bitstream.BitStreamFilterContext(f"{codec}_mp4toannexb", stream)
        params = extradata_parameter_sets(cc.extradata, codec)
        if params:
            self._parameter_sets = params
        rate = stream.average_rate or stream.guessed_rate
        shape = (codec, cc.width, cc.height, float(rate) if rate else None)
        tb = stream.time_base or TIME_BASE
        num, den = tb.numerator * CLOCK, tb.denominator  # to the 90 kHz clock
        rescale = num != den
        started = self.stream_info is not None  # a replayed file carries on
        if started:
            self._online_since = time.monotonic()
        keyframe_deadline = time.monotonic() + max(self.settings.open_timeout_s, self.settings.stall_timeout_s)
        stop, handoff, publish, timeline = self._stop, self.handoff, self.publish, self._timeline
        generation = self.generation
        skip_to_keyframe = False

        for raw in container.demux(stream):
            if stop.is_set():
                return
            if raw.size == 0:
                continue
            for packet in bsf.filter(raw) if bsf is not None else (raw,):
                data = bytes(packet)
                keyframe = packet.is_keyframe
                if keyframe:
                    data = self._keyframe(data, shape)
                    if data is None:
                        continue
                    if not started:
                        started = True
                        self._went_online()
                    skip_to_keyframe = False
                elif not started or skip_to_keyframe:
                    if not started and time.monotonic() > keyframe_deadline:
                        raise StreamFailure(CameraState.ERROR, "no decodable keyframe in the stream")
                    continue
                pts, dts = packet.pts, packet.dts
                if rescale:
                    pts = None if pts is None else pts * num // den
                    dts = None if dts is None else dts * num // den
                if dts is None:
                    out_dts = out_pts = timeline.map(pts)
                else:
                    out_dts = timeline.map(dts)
                    out_pts = out_dts if pts is None else pts + timeline.offset
                if paced and self._pace(out_dts):
                    return
                self.last_packet_at = time.time()
                self.packets += 1
                media = MediaPacket(data, out_pts, out_dts, TIME_BASE, keyframe, time.monotonic(), generation)
                if not handoff.post(publish, media):
                    self.dropped += 1
                    skip_to_keyframe = True

    def _keyframe(self, data: bytes, shape: tuple[str, int, int, float | None]) -> bytes | None:
        """The keyframe with parameter sets in front; ``None`` if it cannot be decoded."""
        codec = shape[0]
        found = parameter_sets_in(data, codec)
        if found is not None:
            if found != self._parameter_sets or self.stream_info is None:
                self._parameter_sets = found
                self._publish_info(shape)
            return data
        if not self._parameter_sets:
            return None
        if self.stream_info is None:
            self._publish_info(shape)
        return ensure_parameter_sets(data, codec, self._parameter_sets)[0]

    def _publish_info(self, shape: tuple[str, int, int, float | None]) -> None:
        codec, width, height, fps = shape
        try:
            sps = parse_sps(self._parameter_sets, codec)
        except BitstreamError:
            sps = None  # the decoder may still cope; the container's figures will do
        info = StreamInfo(
            codec=codec,
            width=sps.width if sps else width,
            height=sps.height if sps else height,
            time_base=TIME_BASE,
            profile_level_id=sps.profile_level_id if sps else None,
            parameter_sets=self._parameter_sets,
            fps=fps,
        )
        if info != self.stream_info:
            # refused (the loop is far behind): leave it unsent, the next keyframe tries again
            self.stream_info = info if self.handoff.post(self.set_stream_info, info) else None

    def _went_online(self) -> None:
        self._online_since = time.monotonic()
        self._down_since = None
        self._ever_online = True
        self.connects += 1
        self._set_state(CameraState.ONLINE, None, 0)

    def _pace(self, ts: int) -> bool:
        """Wait until ``ts`` is due in real time; ``True`` if asked to stop meanwhile."""
        t = ts / CLOCK
        now = time.monotonic()
        if self._pace_origin is None or now - (self._pace_origin + t) > 1.0:
            self._pace_origin = now - t  # first packet, or far behind: re-anchor
        delay = self._pace_origin + t - now
        return delay > 0 and self._stop.wait(delay)
