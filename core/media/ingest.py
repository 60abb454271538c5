"""Ingest: one PyAV connection per camera, in its own thread, packets to the loop.

The thread opens the stream once, demuxes H.264/H.265 without decoding,
normalises each packet to Annex-B with parameter sets in front of every
keyframe, maps timestamps onto one monotonic 90 kHz timeline
(:mod:`core.media.timeline`), and hands the packets to the event loop in
batches (:mod:`core.media.handoff`). When the stream is lost it says why
(:mod:`core.media.failures`) and tries again (:mod:`core.media.reconnect`);
a read that waits in vain is woken by :mod:`core.media.stall_watch`.

Per packet the thread does one copy (the ``av.Packet`` into ``bytes``, which
the packet's consumers then share), a few integer operations and one append
under a lock; it never logs per packet.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import av.bitstream

from core.interfaces import StreamSource, redact_url
from core.media import blocked_read
from core.media.bitstream import (
    CODECS,
    BitstreamError,
    ensure_parameter_sets,
    extradata_parameter_sets,
    is_length_prefixed,
    parameter_sets_in,
    parse_sps,
)
from core.media.failures import StreamFailure, classify, resolve
from core.media.handoff import LoopHandoff
from core.media.ingest_settings import IngestSettings
from core.media.packets import CameraState, CameraStatus, MediaPacket, StreamInfo
from core.media.reconnect import Reconnect
from core.media.source_url import mask, open_options, scheme_of, url_with_credentials
from core.media.stall_watch import WATCH
from core.media.timeline import CLOCK, TIME_BASE, Timeline

log = logging.getLogger("bconnect.ingest")


class CameraIngest:
    """Connects one camera's stream and keeps it connected, in a thread.

    ``publish`` and ``set_stream_info`` run on the event loop through
    ``handoff``, in order: a :class:`StreamInfo` always arrives before the
    packets it describes. ``status`` and ``last_packet_at`` are written by the
    thread and read anywhere (each a single attribute, replaced whole).
    """

    retry_policy: type[Reconnect] = Reconnect  # when to try a lost camera again (bench/recovery.py swaps it)

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
        self.reconnect: Reconnect | None = None  # the thread's retry schedule, once started
        # for the stall watch (core.media.stall_watch), from its own thread:
        self._native_id: int | None = None  # the ingest thread's, for core.media.blocked_read
        self._read_at: float | None = None  # monotonic, the last packet read from a live source; None: not reading
        self._woken: str | None = None  # why the watch woke the thread, for the status it leaves
        self._stop_asked_at: float | None = None  # monotonic
        self.woken = 0  # times the watch had to wake the thread

    def __repr__(self) -> str:
        return f"<CameraIngest {self.camera_id!r} {self.safe_url} {self.status.state.value}>"

    # --- control (event loop) -----------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"ingest-{self.camera_id}", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        if self._stop_asked_at is None:
            self._stop_asked_at = time.monotonic()
        self._stop.set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout``; ``True`` if it ended.

        A thread blocked in a network read is woken by the stall watch one to
        two seconds after the request (:meth:`check_stall`); it is a daemon and
        publishes nothing once stopped.
        """
        self.request_stop()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def current_status(self) -> CameraStatus:
        return dataclasses.replace(self.status, last_packet_at=self.last_packet_at)

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

    def check_stall(self, now: float) -> None:
        """The stall watch's look, about once a second, from its thread: wake a thread stuck in a read.

        FFmpeg's socket timeout ends a connection that carries nothing, but a
        camera whose encoder stopped while its RTSP session lives on keeps
        sending RTCP and answering keep-alives: the read waits for video
        forever. So the watch wakes the thread (:mod:`core.media.blocked_read`)
        when no packet came for the stall timeout, or when it was asked to
        stop a second ago and is still reading.
        """
        read_at = self._read_at
        if read_at is None or self._woken is not None:
            return
        asked = self._stop_asked_at
        if asked is not None:
            if now - asked < 1.0:
                return  # a reading thread sees the flag at its next packet
            why = "stopped"
        elif now - read_at >= self.settings.stall_timeout_s:
            why = f"stalled: no video for {self.settings.stall_timeout_s:g} s (the camera kept the connection open)"
        else:
            return
        self._woken = why  # before the wake, so that the thread finds it when its read returns
        if blocked_read.wake(self._native_id):
            self.woken += 1
            log.info("camera %s: woke its ingest thread (%s)", self.camera_id, why)
        else:
            self._woken = None  # not waiting on a socket right now (busy, or between reads): look again

    def _run(self) -> None:
        self._native_id = threading.get_native_id()
        WATCH.add(self)
        try:
            self._connect_loop()
        finally:
            WATCH.discard(self)

    def _connect_loop(self) -> None:
        settings = self.settings
        retry = self.retry_policy(self.source.url, settings, self.rng, self._stop)
        self.reconnect = retry
        attempts = 0  # tries to reach the camera since it was last online, probes included
        replay = False
        while not self._stop.is_set():
            self._online_since = None
            try:
                self._session(replay)
                failure = None
            except Exception as exc:
                failure = classify(exc, self.source, "stream" if self._online_since else "open", settings)
            woken, self._woken = self._woken, None
            if self._stop.is_set():
                break
            if woken is not None:
                failure = StreamFailure(CameraState.OFFLINE, woken)  # not the end of stream the wake looked like
            now = time.monotonic()
            replay = failure is None and self.source.realtime_loop and self._online_since is not None
            if replay:
                continue  # the file ended: play it again, same generation, no pause
            if failure is None:
                failure = StreamFailure(CameraState.OFFLINE, "stream ended")
            if self._online_since is not None:
                self._down_since = now
                attempts = 0
                retry.lost(online_for=now - self._online_since)
            elif self._down_since is None:
                self._down_since = now
            attempts += 1
            self._set_down(failure, attempts)
            for why in retry.wait():
                attempts += 1
                self._set_down(StreamFailure(CameraState.OFFLINE, why), attempts)
        self._set_state(CameraState.OFFLINE, "stopped", self.status.attempts)

    def _set_down(self, failure: StreamFailure, attempts: int) -> None:
        state = failure.state
        down_for = time.monotonic() - (self._down_since or 0.0)
        if state == CameraState.OFFLINE and self._ever_online and down_for < self.settings.offline_after_s:
            state = CameraState.RECONNECTING
        self._set_state(state, failure.reason, attempts)

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
            resolve(self.source.url)
            target = url_with_credentials(self.source)
        container = av.open(
            target,
            options=open_options(self.source, settings),
            # No PyAV read timeout: its interrupt callback takes the GIL on every
            # socket read (~100k times a second for 53 cameras). FFmpeg's socket
            # timeout (open_options) bounds reads instead, without the GIL, and the
            # stall watch wakes a read that waits in vain (check_stall). Where it
            # cannot (not Linux), PyAV's read timeout does, at that cost.
            timeout=(settings.open_timeout_s, None if blocked_read.supported() else settings.stall_timeout_s),
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
            self._read_at = None
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
        now = time.monotonic()
        keyframe_deadline = now + max(self.settings.open_timeout_s, self.settings.stall_timeout_s)
        stop, handoff, publish, timeline = self._stop, self.handoff, self.publish, self._timeline
        generation = self.generation
        skip_to_keyframe = False
        watched = not paced  # a file does not stall; its thread waits between packets by design
        if watched:
            self._read_at = now

        for raw in container.demux(stream):
            now = time.monotonic()
            if watched:
                self._read_at = now
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
                    if not started and now > keyframe_deadline:
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
                if paced:
                    if self._pace(out_dts):
                        return
                    now = time.monotonic()  # it arrives when due
                self.last_packet_at = time.time()
                self.packets += 1
                media = MediaPacket(data, out_pts, out_dts, TIME_BASE, keyframe, now, generation)
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
