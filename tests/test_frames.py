"""The frame hub on real streams: the GStreamer RTSP server, real H.264 files, real footage.

Cameras are added to a real camera registry (real ingest threads, real
multiplexers); the hub decodes with PyAV. The PTZ camera's control is a
stand-in (no PTZ firmware runs here): the PTZ service in front of it is the real one.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from support.media import write_test_video

from core.interfaces import CameraInfo, Preset, StreamSource
from core.media.frame_decode import FRAME_NICE, FrameDecoder, FrameSettings
from core.media import frames
from core.media.frames import FrameHub
from core.media.packets import MediaPacket
from core.media.registry import CameraRegistry
from core.ptz.service import PtzService
from core.testing.rtsp import rtsp_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(120)]

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian's opencv-doc: people walking


@pytest.fixture
async def registry():
    reg = CameraRegistry()
    await reg.start()
    yield reg
    await reg.stop()


def camera(cid: str, url: str, *, sub: str | None = None, loop: bool = False, presets=()) -> CameraInfo:
    return CameraInfo(
        cid, cid, "dishub", "test", StreamSource(url, realtime_loop=loop),
        sub=StreamSource(sub, realtime_loop=True) if sub else None, presets=tuple(presets),
    )


async def take(sub, count: int, timeout: float = 20.0) -> list:
    return [await asyncio.wait_for(sub.get(), timeout) for _ in range(count)]


async def test_frames_arrive_at_the_asked_rate_shared_by_two_subscribers(registry, rtsp_server):  # noqa: F811
    registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry)
    a = hub.subscribe("c1", "a", fps=5)
    b = hub.subscribe("c1", "b", fps=5)
    fa, fb = await asyncio.gather(take(a, 15), take(b, 15))
    steps = np.diff([f.pts_s for f in fa[3:]])
    assert np.median(steps) == pytest.approx(0.2, abs=0.01)  # 5 fps of a 25 fps camera
    assert all(x is y for x, y in zip(fa[3:], fb[3:]))  # the very same frame objects: one decode
    source = hub.sources["c1"]
    # one decoder: every camera frame decoded once, not once per subscriber
    assert source.decoder.decoded <= registry.get("c1").mux.packets
    assert registry.get("c1").mux.subscriber_count == 1
    f = fa[-1]
    assert (f.width, f.height) == (640, 360) and f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8
    assert not f.image.flags.writeable
    with pytest.raises(ValueError):
        f.image[0, 0, 0] = 1
    assert f.wall.tzinfo is not None and abs(time.time() - f.wall.timestamp()) < 5
    assert f.preset is None and not f.ptz and not f.moving
    a.close()
    b.close()


async def test_a_slower_subscriber_gets_its_own_rate_and_the_hub_decodes_at_the_fastest(registry, rtsp_server):  # noqa: F811
    registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry)
    fast = hub.subscribe("c1", "fast", fps=10)
    slow = hub.subscribe("c1", "slow", fps=2)
    ff, fs = await asyncio.gather(take(fast, 25), take(slow, 6))
    assert np.mean(np.diff([f.pts_s for f in ff[3:]])) == pytest.approx(0.1, abs=0.015)  # 0.08 and 0.12 at 25 fps
    # the median step: one frame handed late under load (the schedule then catches up) does not move it
    assert np.median(np.diff([f.pts_s for f in fs[1:]])) == pytest.approx(0.5, abs=0.08)
    assert hub.describe("c1")["fps_wanted"] == 10
    fast.close()
    slow.close()


async def test_the_sub_stream_is_used_when_the_camera_has_one(registry, rtsp_server, tmp_path):  # noqa: F811
    sub = write_test_video(tmp_path / "sub.mp4", width=320, height=240, seconds=2.0)
    rt = registry.add(camera("c1", rtsp_server.url("h264_gop1"), sub=str(sub)))
    hub = FrameHub(registry)
    s = hub.subscribe("c1", "a", fps=5)
    (f,) = await take(s, 1)
    assert (f.width, f.height) == (320, 240)
    assert hub.describe("c1")["stream"] == "sub"
    assert rt.mux.subscriber_count == 0  # the main stream is not read for analytics
    assert rt.sub is not None and rt.sub.mux.subscriber_count == 1
    s.close()


async def test_the_decoder_stops_after_the_last_unsubscribe(registry, rtsp_server):  # noqa: F811
    rt = registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry)
    assert not hub.running("c1") and rt.mux.subscriber_count == 0  # nobody asked: nothing decodes
    a = hub.subscribe("c1", "a")
    b = hub.subscribe("c1", "b")
    await take(a, 2)
    decoding = [t for t in threading.enumerate() if t.name.startswith("frames-c1")]
    assert decoding
    for thread in decoding:
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except FileNotFoundError:
            continue  # an earlier test's decode thread, ending
        nice = int(stat.rsplit(")", 1)[1].split()[16])  # field 19
        assert nice >= min(19, os.nice(0) + FRAME_NICE)  # below ingest and live view, this thread only
        assert os.sched_getscheduler(thread.native_id) == os.SCHED_OTHER  # thread_policy "nice", the default
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    a.close()
    assert hub.running("c1")
    b.close()
    assert not hub.running("c1")
    deadline = time.monotonic() + 5
    while rt.mux.subscriber_count or any(t.is_alive() for t in decoding):  # this hub's threads, not an earlier test's
        assert time.monotonic() < deadline, "the decode thread or its packet subscription outlived the last subscriber"
        await asyncio.sleep(0.05)
    c = hub.subscribe("c1", "c")  # and starts again for the next one
    await take(c, 2)
    c.close()


async def test_the_loop_hears_of_pictures_not_packets(registry, rtsp_server):  # noqa: F811
    # the decode thread reads packets itself: the event loop (live view's) only gets the pictures due, batched
    rt = registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    hub = FrameHub(registry)
    s = hub.subscribe("c1", "a", fps=5)
    await take(s, 10)
    source = hub.sources["c1"]
    packets, decoded, pictures, handoff = rt.mux.packets, source.decoder.decoded, source.frames, hub.handoff()
    s.close()
    assert decoded >= 40  # 25 fps camera: every packet decoded for the references
    assert handoff.items <= pictures + 2  # one hand-off per picture (and one with the start's losses), not per packet
    assert handoff.items < packets / 4


async def test_a_starved_decoder_skips_ahead_and_the_frames_it_never_saw_count_as_drops(registry, rtsp_server, monkeypatch):  # noqa: F811
    # starved of CPU (SCHED_IDLE on a busy machine), the decode thread falls a whole packet queue behind:
    # the reader resumes at the next keyframe, and the frames skipped are analytics' drops, per camera
    monkeypatch.setattr(frames, "SOURCE_QUEUE", 8)
    rt = registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    drops: list[int] = []
    hub = FrameHub(registry, on_drop=lambda camera_id, n: drops.append(n))
    s = hub.subscribe("c1", "a", fps=5)
    source = hub.sources["c1"]
    decode = source.decoder.decode

    def starved(*args):
        time.sleep(0.6)  # ~15 packets of a 25 fps camera arrive meanwhile: more than the queue holds
        return decode(*args)

    source.decoder.decode = starved
    await take(s, 4, timeout=30)
    reader = source._reader
    skipped = reader.dropped if reader is not None else 0
    assert skipped > 0  # the reader skipped to a keyframe
    deadline = time.monotonic() + 10
    while hub.describe("c1")["behind"] < skipped:  # told to the loop with the thread's next pictures
        assert time.monotonic() < deadline, f"{skipped} packets skipped, {hub.describe('c1')['behind']} frames counted"
        await asyncio.sleep(0.05)
    counts = hub.describe("c1")
    assert counts["dropped"] == sum(drops) >= counts["behind"] >= skipped
    assert rt.mux.subscriber_count == 1
    s.close()


async def test_a_slow_subscriber_drops_frames_and_they_are_counted(registry, rtsp_server):  # noqa: F811
    registry.add(camera("c1", rtsp_server.url("h264_gop1")))
    drops: list[tuple[str, int]] = []
    hub = FrameHub(registry, on_drop=lambda camera_id, n: drops.append((camera_id, n)))
    fast = hub.subscribe("c1", "fast", fps=5)
    stuck = hub.subscribe("c1", "stuck", fps=5, maxsize=2)  # never reads: a saturated analyzer
    got = await take(fast, 15)
    assert len(got) == 15 and fast.dropped == 0
    assert stuck.dropped >= 8 and len(stuck._frames) == 2  # bounded: the newest two, never a backlog
    newest = await stuck.get()
    assert newest.seq >= got[-1].seq - 2
    counts = hub.describe("c1")
    # slow subscribers' losses, and frames the decoder passed over catching up with the cached GOP at start
    assert counts["dropped"] == stuck.dropped + counts["behind"] == sum(n for _, n in drops)
    assert {c for c, _ in drops} == {"c1"}
    fast.close()
    stuck.close()


def encode(width: int, height: int, frames: int, *, start: int = 0, moving: bool = True) -> list[MediaPacket]:
    """H.264 packets (Annex-B) of a test picture; ``moving=False`` is a still scene."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, 25)
    enc.options = {"preset": "ultrafast", "tune": "zerolatency", "repeat-headers": "1"}
    enc.gop_size = 25
    rng = np.random.default_rng(1)
    still = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = []
    for i in range(frames):
        img = still.copy()
        if moving:
            x = (i * 7) % (width - 40)
            img[height // 3: height // 3 + 40, x: x + 40] = 255
        vf = av.VideoFrame.from_ndarray(img, format="bgr24")
        vf.pts = start + i
        for p in enc.encode(vf):
            out.append(MediaPacket(bytes(p), p.pts, p.dts, enc.time_base, p.is_keyframe, time.monotonic(), 1))
    for p in enc.encode(None):
        out.append(MediaPacket(bytes(p), p.pts, p.dts, enc.time_base, p.is_keyframe, time.monotonic(), 1))
    return out


def test_a_resolution_change_and_undecodable_packets_are_counted_not_fatal(caplog):
    decoder = FrameDecoder("c1", FrameSettings())
    first = encode(320, 240, 25)
    garbage = [MediaPacket(b"\x00\x00\x00\x01\x41" + bytes(range(256)) * 4, 25, 25, first[0].time_base, False,
                           time.monotonic(), 1)]
    second = encode(640, 360, 25, start=26)
    pictures = []
    for batch in (garbage, first, garbage, second):  # garbage before the first keyframe, and mid-stream
        for p in batch:
            pictures += decoder.decode([p], "h264", 5.0)
    sizes = [(d.image.shape[1], d.image.shape[0]) for d in pictures]
    assert sizes[0] == (320, 240) and sizes[-1] == (640, 360)
    assert decoder.resolution_changes == 1
    assert decoder.undecodable >= 1  # (mid-stream, FFmpeg conceals the damage instead)
    assert caplog.text.count("undecodable packet") == 1  # logged once, then counted
    assert "resolution changed from 320x240 to 640x360" in caplog.text


def test_motion_gating_on_a_still_scene_forces_a_frame_now_and_then():
    decoder = FrameDecoder("still", FrameSettings(force_every_s=1.0))
    pictures = decoder.decode(encode(320, 240, 100, moving=False), "h264", 25.0)  # one batch: newest only
    assert len(pictures) == 1
    decoder = FrameDecoder("still", FrameSettings(force_every_s=1.0))
    pictures = [d for p in encode(320, 240, 100, moving=False) for d in decoder.decode([p], "h264", 5.0)]
    assert len(pictures) == 20  # 4 s at 5 fps
    assert max(d.motion for d in pictures[1:]) < 0.001
    detect = [d.t for d in pictures if d.detect]
    assert pictures[0].detect and all(d.forced for d in pictures[1:] if d.detect)
    assert len(detect) == 4 and np.allclose(np.diff(detect), 1.0)  # the first, then one a second
    moving = FrameDecoder("moving", FrameSettings(force_every_s=1.0))
    pictures = [d for p in encode(320, 240, 50) for d in moving.decode([p], "h264", 5.0)]
    assert all(d.detect and not d.forced for d in pictures[1:])


def vtest_h264(path: Path, seconds: float = 6.0) -> Path:
    """The first seconds of vtest.avi (real street footage) as H.264."""
    with av.open(str(VTEST)) as src, av.open(str(path), "w") as dst:
        vin = src.streams.video[0]
        out = dst.add_stream("libx264", rate=10)
        out.width, out.height, out.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        out.options = {"preset": "ultrafast", "g": "10"}
        for i, frame in enumerate(src.decode(vin)):
            if i >= seconds * 10:
                break
            frame.pts = None
            for p in out.encode(frame.reformat(format="yuv420p")):
                dst.mux(p)
        for p in out.encode(None):
            dst.mux(p)
    return path


@pytest.mark.skipif(not VTEST.exists(), reason="Debian's opencv-doc is not installed (scripts/setup.sh installs it)")
async def test_motion_on_real_footage_through_a_camera(registry, tmp_path):
    video = vtest_h264(tmp_path / "vtest.mp4")
    registry.add(camera("street", str(video), loop=True))
    hub = FrameHub(registry, settings=FrameSettings(force_every_s=60.0))
    s = hub.subscribe("street", "a", fps=5)
    frames = await take(s, 12)
    s.close()
    assert (frames[0].width, frames[0].height) == (768, 576)
    walking = [f for f in frames[1:]]
    # people walk through every frame: motion everywhere, the detector runs on (nearly) all of them
    assert sum(f.detect and not f.forced for f in walking) >= len(walking) - 1
    assert np.median([f.motion for f in walking]) > 0.005


class TravellingPtz:
    """A stand-in for a PTZ camera's control (no PTZ firmware runs here): answers at once, as ONVIF does."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def list_presets(self):
        return [Preset("a", "A"), Preset("b", "B")]

    async def goto_preset(self, preset_id):
        self.calls.append(f"goto {preset_id}")

    async def continuous_move(self, pan, tilt, zoom):
        self.calls.append("move")

    async def absolute_move(self, pan, tilt, zoom):
        self.calls.append("absolute")

    async def zoom(self, level):
        self.calls.append("zoom")

    async def stop(self):
        self.calls.append("stop")


async def test_frames_carry_no_preset_while_the_camera_moves(registry, rtsp_server):  # noqa: F811
    info = camera("ptz1", rtsp_server.url("h264_gop1"), presets=[Preset("a", "A"), Preset("b", "B")])
    registry.add(info)
    ptz = PtzService()
    ptz.add_camera("test", info, TravellingPtz())
    hub = FrameHub(registry, ptz, settings=FrameSettings(settle_s=0.6))
    s = hub.subscribe("ptz1", "a", fps=10)

    async def frames_for(seconds: float) -> list:
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            out.append(await asyncio.wait_for(s.get(), 10))
        return out

    await take(s, 2)  # streaming
    await ptz.goto_preset("ptz1", "a", by=None)
    seen = await frames_for(1.5)
    assert seen[0].preset is None and seen[0].moving  # still travelling to "a"
    assert seen[-1].preset == "a" and not seen[-1].moving and seen[-1].ptz
    view_a = seen[-1].view

    await ptz.continuous_move("ptz1", 0.5, 0, 0, by="ani")  # an operator steers it off the preset
    seen = await frames_for(1.0)
    assert all(f.preset is None and f.moving for f in seen)
    assert seen[-1].view > view_a  # a new view: trackers reset

    await ptz.goto_preset("ptz1", "b", by="ani")
    seen = await frames_for(1.5)
    assert seen[0].preset is None and seen[-1].preset == "b"
    assert len({f.view for f in seen}) == 1 and seen[-1].view > view_a + 1
    s.close()
    hub.close()
