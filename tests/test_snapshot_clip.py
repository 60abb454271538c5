"""Snapshots from the cached keyframe and evidence clips, from a real RTSP camera."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from types import SimpleNamespace

import av
import pytest
from support.waiting import wait_for

from core.interfaces import CameraInfo, StreamSource
from core.media.clips import ClipError, ClipWriter
from core.media.ingest_settings import IngestSettings
from core.media.registry import CameraRegistry
from core.media.snapshot import Snapshots, SnapshotUnavailable
from core.testing.rtsp import DEFAULT_MOUNTS, RtspServer


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    srv = RtspServer(mounts={m: DEFAULT_MOUNTS[m] for m in ("h264_gop1", "h265")}).start()
    yield srv
    srv.stop()


@pytest.fixture
async def registry(rtsp) -> Iterator[CameraRegistry]:
    reg = CameraRegistry(settings=IngestSettings(ring_seconds=6))
    await reg.start()
    reg.add(CameraInfo("cam", "Cam", "pemkot", "test", StreamSource(rtsp.url("h264_gop1"))))
    reg.add(CameraInfo("hevc", "Hevc", "pemkot", "test", StreamSource(rtsp.url("h265"))))
    reg.add(CameraInfo("dead", "Dead", "pemkot", "test", StreamSource("rtsp://127.0.0.1:1/x")))
    yield reg
    await reg.stop()


def decode_jpeg(data: bytes) -> av.VideoFrame:
    with av.open(io.BytesIO(data), format="image2pipe") as c:
        return next(c.decode(video=0))


@pytest.mark.parametrize("camera_id", ["cam", "hevc"])
async def test_snapshot_is_a_jpeg_of_the_camera_resolution(registry, camera_id):
    rt = registry.get(camera_id)
    await wait_for(lambda: rt.mux.last_keyframe() is not None, 15, "a keyframe")
    snaps = Snapshots()
    # the camera's keyframe held still, so that a new one arriving between the calls cannot race the check
    held = SimpleNamespace(keyframe=rt.mux.last_keyframe(), stream_info=rt.mux.stream_info)
    held.last_keyframe = lambda: held.keyframe
    jpeg = await snaps.jpeg(camera_id, held)
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    frame = decode_jpeg(jpeg)
    assert (frame.width, frame.height) == (640, 360)
    # the same keyframe is decoded once and shared
    assert await snaps.jpeg(camera_id, held) is jpeg
    # a newer keyframe is decoded afresh
    await wait_for(lambda: rt.mux.last_keyframe() is not held.keyframe, 15, "a newer keyframe")
    held.keyframe = rt.mux.last_keyframe()
    newer = await snaps.jpeg(camera_id, held)
    assert newer is not jpeg and newer[:2] == b"\xff\xd8"


async def test_snapshot_without_a_keyframe_says_why(registry):
    with pytest.raises(SnapshotUnavailable, match="no keyframe"):
        await Snapshots().jpeg("dead", registry.get("dead").mux)


async def test_clip_is_a_valid_mp4_with_its_sha256(registry, tmp_path):
    rt = registry.get("cam")
    await wait_for(lambda: len(rt.mux.preroll(10)) >= 75, 15, "3 s of pre-roll in the ring")
    writer = ClipWriter(registry, tmp_path / "clips")
    clip = await writer.cut("cam", pre_s=2.0, post_s=2.0)

    assert clip.path.parent == tmp_path / "clips" and clip.path.suffix == ".mp4"
    data = clip.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == clip.sha256 and len(data) == clip.size
    sidecar = json.loads(clip.path.with_suffix(".json").read_text())
    assert sidecar["sha256"] == clip.sha256 and sidecar["camera_id"] == "cam"
    assert not [p for p in clip.path.parent.iterdir() if p.name.endswith(".tmp")]

    with av.open(str(clip.path)) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 640, 360)
        frames = sum(1 for _ in c.decode(stream))
    # pre-roll starts at a keyframe at least 2 s back (keyframes every 1 s): 4 to 5 s at 25 fps
    assert 4 * 25 - 2 <= frames <= 5 * 25 + 2
    assert clip.frames == frames
    assert 3.9 <= clip.duration_s <= 5.1
    assert clip.codec == "h264" and (clip.width, clip.height) == (640, 360)


async def test_h265_clip_remuxes_without_reencoding(registry, tmp_path):
    rt = registry.get("hevc")
    await wait_for(lambda: rt.mux.last_keyframe() is not None, 15, "a keyframe")
    clip = await ClipWriter(registry, tmp_path).cut("hevc", pre_s=0.0, post_s=1.0)
    with av.open(str(clip.path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "hevc"
        assert sum(1 for _ in c.decode(stream)) == clip.frames >= 20


async def test_clip_refusals(registry, tmp_path):
    writer = ClipWriter(registry, tmp_path)
    with pytest.raises(ClipError, match="unknown camera"):
        await writer.cut("nope")
    with pytest.raises(ClipError, match="no keyframe"):
        await writer.cut("dead", post_s=0.1)
    with pytest.raises(ClipError, match="at most"):
        await writer.cut("cam", pre_s=100, post_s=100)
    assert registry.get("dead").mux.subscriber_count == 0
