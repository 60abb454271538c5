"""``bconnect analyze``: the real detector and tracker over real footage, its JSON lines, its bad input.

The footage is Debian's ``vtest.avi`` (opencv-doc, installed by set-up): a
plaza seen from above, people walking, a van and a car parked. The detector is
the deployment's ``vision_onnx`` with the default model set-up builds.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from core.testing.pytest_plugin import bconnect

pytestmark = pytest.mark.timeout(600)

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DETECTOR = '[plugins.vision_onnx]\nproviders = ["cpu"]\n'
SECONDS = 20  # of the clip's 79.5: 100 frames at 5 fps, a few minutes' CPU at most on a loaded machine

KEYS = {
    "detection": {"type", "frame", "t", "label", "score", "box"},
    "track": {"type", "frame", "t", "id", "label", "state", "score", "box", "stationary_s", "speed"},
    "zone": {"type", "frame", "t", "track", "label", "zone", "kind", "action"},
}

LEFT_HALF = {
    "format": "bconnect.zones",
    "version": 1,
    "camera": "plaza",
    "zones": [
        {"id": "left", "name": "Left half", "kind": "watched_area", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
    ],
}


@pytest.fixture(scope="module")
def vtest() -> Path:
    if not VTEST.is_file():
        pytest.fail(f"{VTEST} missing: scripts/setup.sh installs opencv-doc")
    return VTEST


@pytest.fixture(scope="module")
def analysed(vtest, tmp_path_factory) -> tuple[list[dict], str]:
    """The first SECONDS of vtest.avi through ``bconnect analyze --json`` with a zone file: (records, stderr)."""
    from core.testing.deployment import deployment_toml

    tmp = tmp_path_factory.mktemp("analyze")
    config = tmp / "deployment.toml"
    config.write_text(deployment_toml(tmp / "data") + "\n" + DETECTOR)
    zones = tmp / "zones.json"
    zones.write_text(json.dumps(LEFT_HALF))
    result = bconnect(
        "analyze", str(vtest), "--config", str(config), "--json", "--zones", str(zones), "--duration", str(SECONDS),
        timeout=540,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]  # every line is one JSON object
    return records, result.stderr


def test_every_line_has_its_schema(analysed):
    records, stderr = analysed
    assert stderr == ""
    assert records[-1]["type"] == "summary" and [r["type"] for r in records].count("summary") == 1
    seen = Counter(r["type"] for r in records[:-1])
    assert set(seen) == {"detection", "track", "zone"}, seen  # no analyzer in this deployment: no event
    last_t = -1.0
    for r in records[:-1]:
        keys = KEYS[r["type"]] | ({"ended"} if r.get("ended") else set())
        assert set(r) == keys, r
        assert isinstance(r["frame"], int) and 0 <= r["t"] < SECONDS and r["t"] >= last_t, r
        last_t = r["t"]
        if "box" in r:
            x1, y1, x2, y2 = r["box"]
            assert 0 <= x1 < x2 <= 768 + 1 and 0 <= y1 < y2 <= 576 + 1, r
        if "score" in r:
            assert 0 < r["score"] <= 1
    for r in records:
        if r["type"] == "track":
            assert r["state"] in ("tracked", "lost") and r["stationary_s"] >= 0 and r["speed"] >= 0
        if r["type"] == "zone":
            assert (r["zone"], r["kind"]) == ("left", "watched_area") and r["action"] in ("enter", "leave")


def test_people_found_and_tracked_with_stable_ids(analysed):
    records, _ = analysed
    summary = records[-1]
    frames = {r["frame"] for r in records if r["type"] == "detection"}
    assert summary["frames_analysed"] == SECONDS * 5 and summary["frames_decoded"] == SECONDS * 10  # 10 fps file at 5 fps
    assert len(frames) >= 0.95 * summary["frames_analysed"]  # people in nearly every frame
    every = [r for r in records if r["type"] == "detection" and r["label"] == "person"]
    assert summary["detections"]["person"] == len(every)  # down to the tracker's low score (0.1)
    people = [r for r in every if r["score"] >= 0.5]  # the sure ones
    assert len(people) >= 5 * summary["frames_analysed"], len(people)  # 8 or so walk the plaza at any time

    tracks: dict[int, list[dict]] = {}
    for r in records:
        if r["type"] == "track" and r["state"] == "tracked":
            tracks.setdefault(r["id"], []).append(r)
    person_ids = {i for i, rs in tracks.items() if rs[-1]["label"] == "person"}
    assert summary["tracks"]["person"] == len(person_ids)
    # stable ids: a handful of tracks carry hundreds of detections, not one id per detection
    assert 5 <= len(person_ids) <= len(people) / 15, (len(person_ids), len(people))
    lengths = sorted((len(tracks[i]) for i in person_ids), reverse=True)
    assert lengths[4] >= 30, lengths  # five people followed for 6 s or more (walking across takes about 10)
    tracked_share = sum(lengths) / len(people)
    assert tracked_share >= 0.8, tracked_share  # most sure detections belong to a confirmed track
    for rs in tracks.values():  # one id is one object: from frame to frame it moves a little, never jumps
        for a, b in zip(rs, rs[1:]):
            if b["frame"] - a["frame"] == 2:
                ax, bx = (a["box"][0] + a["box"][2]) / 2, (b["box"][0] + b["box"][2]) / 2
                assert abs(ax - bx) < 60, (a, b)
    # the parked van and car: tracks that do not move
    parked = [rs for i, rs in tracks.items() if rs[-1]["label"] in ("car", "truck") and rs[-1]["stationary_s"] >= 10]
    assert parked, summary["tracks"]


def test_zone_entries_follow_the_tracks(analysed):
    records, _ = analysed
    zone = [r for r in records if r["type"] == "zone"]
    assert zone and records[-1]["zone_entries"]["left"] == sum(r["action"] == "enter" for r in zone)
    by_frame: dict[int, list[dict]] = {}
    for r in records[:-1]:
        by_frame.setdefault(r["frame"], []).append(r)
    state: dict[int, bool] = {}
    for frame in sorted(by_frame):  # a frame's zone lines follow its track lines
        for r in by_frame[frame]:
            if r["type"] == "zone":
                inside = r["action"] == "enter"
                assert state.get(r["track"], False) != inside, r  # enter and leave alternate, enter first
                state[r["track"]] = inside
        for r in by_frame[frame]:
            if r["type"] == "track" and r["state"] == "tracked":
                x1, _, x2, _ = r["box"]
                assert ((x1 + x2) / 2 < 768 / 2) == state.get(r["id"], False), r  # in: ground point in the left half


def test_human_summary(vtest, make_deployment):
    dep = make_deployment(DETECTOR)
    result = bconnect("analyze", str(vtest), "--config", str(dep.path), "--duration", "2", "--every", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{vtest}: 5 frames analysed of 20 decoded (msmpeg4 768x576)"
    assert lines[1].startswith("detector: vision_onnx (ssd_mobilenet_v2_coco_quant.onnx on CPUExecutionProvider)")
    assert lines[2].startswith("detections: person ")
    assert lines[3].startswith("tracks: person ")  # confirmed after 3 frames in a row
    assert lines[-1].startswith("time per frame: detector ") and " ms in all (" in lines[-1]


# --- bad input: one line naming the problem, exit 2 ------------------------------------------


def one_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_missing_and_undecodable_video(make_deployment, tmp_path):
    dep = make_deployment(DETECTOR)
    missing = tmp_path / "nothing.mp4"
    assert one_error(bconnect("analyze", str(missing), "--config", str(dep.path))) == f"error: {missing}: no such file"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video\n" * 100)
    line = one_error(bconnect("analyze", str(junk), "--config", str(dep.path)))
    assert line.startswith(f"error: {junk}: not a video file PyAV can read (")
    audio = tmp_path / "tone.wav"
    with av.open(str(audio), "w") as out:  # sound only
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    assert one_error(bconnect("analyze", str(audio), "--config", str(dep.path))) == f"error: {audio}: has no video stream"


def test_deployment_without_detector_names_the_plugin_to_enable(vtest, make_deployment):
    dep = make_deployment("")
    line = one_error(bconnect("analyze", str(vtest), "--config", str(dep.path)))
    assert line == f"error: {dep.path}: no detector is enabled: add [plugins.vision_onnx] to it (a plugin that provides a detector)"


def test_detector_that_cannot_load(vtest, make_deployment):
    dep = make_deployment('[plugins.vision_onnx]\nmodel = "models/missing.onnx"\nproviders = ["cpu"]\n')
    line = one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--duration", "1"))
    assert line.startswith("error: detector vision_onnx: ") and "missing.onnx" in line, line


def test_bad_zone_file(vtest, make_deployment, tmp_path):
    dep = make_deployment(DETECTOR)
    bad = dict(LEFT_HALF, zones=[dict(LEFT_HALF["zones"][0], kind="parking")])
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps(bad, indent=1))
    line = one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--zones", str(zones)))
    assert line.startswith(f"error: {zones}: line ") and "[zones[0].kind] unknown zone kind 'parking'" in line, line
    zones.write_text("{not json")
    assert "invalid JSON" in one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--zones", str(zones)))
    zones.write_text(json.dumps(LEFT_HALF))
    line = one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--zones", str(zones), "--camera", "gate"))
    assert line == f"error: {zones}: the zone file is for camera 'plaza', not 'gate'"
    missing = tmp_path / "none.json"
    assert one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--zones", str(missing))).startswith(
        f"error: {missing}: "
    )


def test_bad_rates(vtest, make_deployment):
    dep = make_deployment(DETECTOR)
    assert one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--fps", "0")) == (
        "error: --fps must be above 0, got 0"
    )
    assert one_error(bconnect("analyze", str(vtest), "--config", str(dep.path), "--every", "0")) == (
        "error: --every must be 1 or more, got 0"
    )
