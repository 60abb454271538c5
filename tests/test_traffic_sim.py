"""The traffic simulator: plates, deterministic renders, real H.264 files, scenario truth, the driver.

Renders here are tiny (320x180, 10 fps, 4 s) so the whole file runs in seconds;
the demo's full-size renders are timed in docs/simulator.md.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from support.api_users import make_tokens

from core.config import load_file
from core.interfaces import CameraInfo
from core.plugin_host import load_plugins
from core.testing.pytest_plugin import bconnect
from plugins.traffic_sim import cache, plates
from plugins.traffic_sim.renderer import Renderer, RenderSpec
from plugins.traffic_sim.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parent.parent
GENERATED = Path(__file__).resolve().parent / "_generated"


def tiny(scenario: str, seed: int = 7, **kw) -> RenderSpec:
    return RenderSpec(scenario, seed, width=320, height=180, fps=10, loop_seconds=4, keyframe_seconds=2, **kw)


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, tuple[cache.Rendered, dict]]:
    """Every scenario rendered once, tiny, with its ground truth loaded."""
    out = {}
    sim = tmp_path_factory.mktemp("sim")
    for name in SCENARIOS:
        result = cache.render(tiny(name), sim)
        out[name] = (result, json.loads(result.truth.read_text()))
    return out


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise AssertionError("no frame")


def boxes_of(truth: dict, object_id: str) -> dict[int, list[int]]:
    return {f["i"]: o["bbox"] for f in truth["frames"] for o in f["objects"] if o["id"] == object_id}


def inside(point: tuple[float, float], polygon: list[list[float]]) -> bool:
    x, y = point
    hit = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


# --- plates ------------------------------------------------------------------


def test_plate_normalise_parse_and_validate():
    assert plates.normalise(" kt 1234-ab ") == "KT1234AB"
    plate = plates.parse("KT 1234 AB")
    assert plate == plates.Plate("KT", 1234, "AB")
    assert plate.text == "KT 1234 AB" and plate.normalised == "KT1234AB"
    assert plates.is_valid("B 1 X") and plates.is_valid("kt7001")
    for bad in ("KT 0123 AB", "KT 12345 AB", "KT 1234 ABCD", "XX 1234 AB", "1234 AB", "KT AB", ""):
        assert not plates.is_valid(bad), bad


def test_generated_plates_are_valid_and_match_vehicle_class():
    rng = np.random.default_rng(1)
    for cls, (lo, hi) in plates.NUMBER_RANGES.items():
        for _ in range(200):
            plate = plates.generate(rng, cls)
            assert plates.parse(plate.text) == plate
            assert lo <= plate.number <= hi and plate.vehicle_class == cls
            assert plate.area == "KT" and len(plate.series) <= 3
    with pytest.raises(ValueError):
        plates.generate(rng, "car", area="QQ")


# --- determinism and the file --------------------------------------------------


def test_same_seed_same_truth_and_pixels(tmp_path):
    spec = tiny("free_flow", seed=42)
    a = cache.render(spec, tmp_path / "a")
    b = cache.render(spec, tmp_path / "b")
    assert a.truth.read_bytes() == b.truth.read_bytes()
    assert np.array_equal(first_frame(a.video), first_frame(b.video))
    assert np.array_equal(Renderer(spec).frame(5)[0], Renderer(spec).frame(5)[0])
    other = cache.render(tiny("free_flow", seed=43), tmp_path / "a")
    assert other.truth.read_bytes() != a.truth.read_bytes()


def test_rendered_file_is_h264_with_the_configured_timing(renders):
    result, truth = renders["free_flow"]
    spec = result.spec
    gop = spec.fps * spec.keyframe_seconds
    with av.open(str(result.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.profile == "Main"
        assert (stream.width, stream.height) == (320, 180)
        assert stream.average_rate == spec.fps
        assert stream.frames == spec.frames == 40
        assert container.duration / 1e6 == pytest.approx(spec.loop_seconds, abs=0.05)
        keyframes = [i for i, p in enumerate(p for p in container.demux(stream) if p.size) if p.is_keyframe]
    assert keyframes == list(range(0, spec.frames, gop))
    assert truth["frames_total"] == len(truth["frames"]) == spec.frames
    assert (truth["width"], truth["height"], truth["fps"]) == (320, 180, 10)


# --- ground truth ------------------------------------------------------------------


def test_truth_plates_are_valid_tnkb_and_match_classes(renders):
    seen_classes = set()
    for _, truth in renders.values():
        for obj in truth["objects"]:
            seen_classes.add(obj["class"])
            if obj["class"] == "person":
                assert "plate" not in obj
                continue
            plate = plates.parse(obj["plate_text"])
            assert plate is not None and plate.normalised == obj["plate"]
            assert plate.vehicle_class == obj["class"], obj
            assert obj["plate_style"] in ("white", "black")
    assert {"car", "motorcycle", "person"} <= seen_classes


def test_boxes_lie_inside_the_frame_and_plates_inside_their_vehicle(renders):
    _, truth = renders["free_flow"]
    plated = 0
    for f in truth["frames"]:
        for o in f["objects"]:
            x0, y0, x1, y1 = o["bbox"]
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 180
            assert 0 <= o["clarity"] <= 1
            assert o["clarity"] == 1 if o["depth"] <= 60 else o["depth"] < 70 or o["clarity"] < 1
            if "plate_bbox" in o:
                px0, py0, px1, py1 = o["plate_bbox"]
                assert x0 <= px0 and y0 <= py0 and px1 <= x1 and py1 <= y1
                plated += 1
    assert plated > 20


def test_no_parking_car_stands_still_inside_the_zone(renders):
    _, truth = renders["no_parking_stop"]
    (event,) = truth["events"]
    assert event["type"] == "no_parking_stop" and event["zone"] == "no_parking"
    assert event["end_s"] - event["start_s"] > 0.5 * truth["loop_seconds"]
    zone = truth["zones"][0]["polygon"]
    boxes = boxes_of(truth, "parker")
    window = range(event["start_frame"], event["end_frame"] + 1)
    assert all(i in boxes for i in window)
    assert len({tuple(boxes[i]) for i in window}) == 1  # stationary
    x0, _, x1, y1 = boxes[event["start_frame"]]
    assert inside(((x0 + x1) / 2, y1 - 2), zone)
    # and it arrives and leaves within the loop
    assert boxes.get(0) != boxes[event["start_frame"]]
    assert truth["objects"][[o["id"] for o in truth["objects"]].index("parker")]["class"] == "car"


def test_collision_vehicles_touch_then_stop(renders):
    _, truth = renders["collision"]
    (event,) = truth["events"]
    assert event["type"] == "collision" and set(event["objects"]) == {"lead", "follower"}
    lead, follower = boxes_of(truth, "lead"), boxes_of(truth, "follower")
    i = event["start_frame"]
    a, b = lead[i], follower[i]
    assert a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]  # the boxes overlap
    settled = range(min(i + 5, event["end_frame"]), event["end_frame"] + 1)
    assert len({tuple(lead[j]) for j in settled}) == 1
    assert len({tuple(follower[j]) for j in settled}) == 1


def test_loiterer_lingers_at_night(renders):
    _, truth = renders["loiter_night"]
    assert truth["night"] is True
    (event,) = truth["events"]
    boxes = boxes_of(truth, "loiterer")
    window = [i for i in range(event["start_frame"], event["end_frame"] + 1)]
    assert sum(i in boxes for i in window) >= 0.8 * len(window)
    xs = [(boxes[i][0] + boxes[i][2]) / 2 for i in window if i in boxes]
    assert max(xs) - min(xs) < 0.25 * truth["width"]  # stays in one place


def test_crowd_gathers(renders):
    _, truth = renders["crowd"]
    (event,) = truth["events"]
    members = set(event["objects"])
    mid = (event["start_frame"] + event["end_frame"]) // 2
    frame = truth["frames"][mid]
    present = [o for o in frame["objects"] if o["id"] in members]
    assert len(present) >= 8
    before = [o for o in truth["frames"][0]["objects"] if o["id"] in members]
    assert len(before) < 8


@pytest.mark.parametrize("seed", [101, 202, 303])
def test_the_crowd_stands_where_the_camera_can_count_it(seed):
    """Each member's standing figure is at most max_hidden behind the others (seed 303 hid several before)."""
    from plugins.traffic_sim.geometry import BUILDING_X
    from plugins.traffic_sim.world import _figure, _hidden, build_world

    scenario = SCENARIOS["crowd"]
    world = build_world(scenario, seed, 1280, 720, 30.0, False)
    members = [a for a in world.actors if a.role == "crowd"]
    slots = []
    for m in members:  # where two keys in a row are one place out of doors: the stand
        xz = m.track._xz
        slots.append(next(a for a, b in zip(xz, xz[1:]) if a == b and abs(abs(a[0]) - (BUILDING_X + 0.2)) > 1e-6))
    figures = [_figure(world.view, p) for p in slots]
    assert len(figures) == scenario.gatherings[0].count == 12
    assert max(_hidden(figures, k) for k in range(len(figures))) <= scenario.gatherings[0].max_hidden


def test_runners_stand_then_all_break_into_a_run(renders):
    _, truth = renders["running"]
    (event,) = truth["events"]
    assert event["type"] == "running" and len(event["objects"]) == 4
    assert [z["kind"] for z in truth["zones"]][1:] == ["watched_area"]
    for runner in event["objects"]:
        boxes = boxes_of(truth, runner)
        before = [boxes[i] for i in range(event["start_frame"] - 5, event["start_frame"] + 1) if i in boxes]
        assert len(before) >= 5 and len({tuple(b) for b in before}) == 1, runner  # standing
        after = [boxes[i] for i in range(event["start_frame"], event["end_frame"]) if i in boxes]
        assert after[-1][0] - before[-1][0] > 3 * (before[-1][3] - before[-1][1]), runner  # ran off to the right


def test_people_wait_at_the_crossing_then_walk_across_and_nothing_is_due(renders):
    _, truth = renders["crossing_wait"]
    assert truth["events"] == [] and [z["kind"] for z in truth["zones"]][1:] == ["watched_area"]
    walkers = [o["id"] for o in truth["objects"] if o.get("role", "").startswith("walker")]
    assert len(walkers) == 5
    for walker in walkers:
        xs = [(b[0] + b[2]) / 2 for _, b in sorted(boxes_of(truth, walker).items())]
        assert xs and max(xs) - min(xs) > 0.2 * truth["width"], walker  # across the road


def test_background_traffic_and_people_loop_seamlessly():
    world = Renderer(tiny("free_flow", seed=3)).world
    background = [a for a in world.actors if a.role is None]
    assert len(background) > 10
    for actor in background:
        assert actor.track.visible(0.0) == actor.track.visible(1.0)
        a, b = actor.track.pose(0.0), actor.track.pose(1.0)
        assert (a.x, a.z, a.heading) == pytest.approx((b.x, b.z, b.heading)), actor.id


def longest_stand(boxes: dict[int, list[int]]) -> tuple[int, tuple[int, ...]]:
    """Frames of the longest run of one unchanged box, and that box."""
    best, run, last, where = 0, 0, None, ()
    for i in sorted(boxes):
        run = run + 1 if tuple(boxes[i]) == last else 1
        last = tuple(boxes[i])
        if run > best:
            best, where = run, last
    return best, where


def test_delivery_stop_is_short_and_in_the_zone_with_no_event(renders):
    _, truth = renders["delivery_stop"]
    assert truth["events"] == []
    frames, box = longest_stand(boxes_of(truth, "courier"))
    assert 0.15 * truth["frames_total"] <= frames <= 0.25 * truth["frames_total"]
    assert inside(((box[0] + box[2]) / 2, box[3] - 2), truth["zones"][0]["polygon"])


def test_queue_stands_in_the_lane_outside_the_zone_with_no_event(renders):
    _, truth = renders["queue"]
    assert truth["events"] == []
    for name in ("queue1", "queue2", "queue3"):
        frames, box = longest_stand(boxes_of(truth, name))
        assert frames >= 0.35 * truth["frames_total"], name
        assert not inside(((box[0] + box[2]) / 2, box[3] - 2), truth["zones"][0]["polygon"]), name


def test_free_flow_has_no_events_and_moving_traffic(renders):
    _, truth = renders["free_flow"]
    assert truth["events"] == []
    first = {o["id"]: o["bbox"] for o in truth["frames"][0]["objects"]}
    later = {o["id"]: o["bbox"] for o in truth["frames"][5]["objects"]}
    moved = [k for k in first.keys() & later.keys() if first[k] != later[k]]
    assert len(moved) >= 3


# --- cache ---------------------------------------------------------------------------


def test_second_render_is_a_cache_hit(tmp_path):
    spec = tiny("crowd")
    first = cache.render(spec, tmp_path)
    assert not first.cached and first.seconds > 0
    stamp = first.video.stat().st_mtime_ns
    started = time.monotonic()
    again = cache.render(spec, tmp_path)
    assert again.cached and again.seconds == 0 and time.monotonic() - started < 0.1
    assert again.video == first.video and first.video.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.video.name, first.truth.name])
    # anything that changes the pixels changes the key
    assert cache.paths(tiny("crowd", seed=8), tmp_path) != cache.paths(spec, tmp_path)
    assert cache.paths(tiny("crowd", night=True), tmp_path) != cache.paths(spec, tmp_path)


# --- the plugin --------------------------------------------------------------------


SIM_TOML = """
[plugins.traffic_sim]
resolution = "320x180"
fps = 10
loop_seconds = 4

[[plugins.traffic_sim.cameras]]
id = "sim-1"
name = "SIM 1"
area = "beruang_madu"
scenario = "no_parking_stop"
seed = 5

[[plugins.traffic_sim.cameras]]
id = "sim-2"
name = "SIM 2"
area = "beller"
agency = "polri"
scenario = "loiter_night"
lat = -1.25
lon = 116.85
"""


async def test_driver_offers_looping_file_sources_and_renders_once(make_deployment):
    dep = make_deployment(SIM_TOML)
    sim = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    cameras = await sim.cameras()
    assert [c.id for c in cameras] == ["sim-1", "sim-2"]
    for cam in cameras:
        assert isinstance(cam, CameraInfo) and cam.driver == "traffic_sim"
        assert cam.main.realtime_loop is True
        path = Path(cam.main.url)
        assert path.is_absolute() and path.parent == (dep.data_dir / "sim").absolute() and path.suffix == ".mp4"
    assert (cameras[1].agency, cameras[1].area, cameras[1].lat) == ("polri", "beller", -1.25)
    assert cameras[0].agency == "dishub"

    await sim.start_rendering()
    assert all(Path(c.main.url).is_file() for c in cameras)
    assert sim.truth_path("sim-1").is_file()
    health = sim.bconnect_health(None)
    assert health["status"] == "ok" and health["ready"] == 2 and health["render_s"] > 0

    # a second start (a new plugin instance) finds both loops and renders nothing
    again = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    await again.start_rendering()
    assert all(r.cached for r in again.rendered.values()) and len(again.rendered) == 2
    assert again.bconnect_health(None)["render_s"] == 0


async def test_a_sub_resolution_gives_each_camera_a_scaled_sub_stream_in_step_with_its_loop(make_deployment):
    dep = make_deployment(
        SIM_TOML.replace('loop_seconds = 4\n', 'loop_seconds = 4\nsub_resolution = "160x90"\n')
        .replace('scenario = "loiter_night"\n', 'scenario = "loiter_night"\nsub_stream = false\n')
    )
    sim = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    await sim.start_rendering()
    cameras = {c.id: c for c in await sim.cameras()}
    assert cameras["sim-2"].sub is None  # sub_stream = false: its analytics read the main stream
    sub = cameras["sim-1"].sub
    assert sub is not None and sub.realtime_loop is True
    assert Path(sub.url) == sim.sub_video_path("sim-1") and Path(sub.url).parent == Path(cameras["sim-1"].main.url).parent
    with av.open(sub.url) as small, av.open(cameras["sim-1"].main.url) as big:
        s, b = small.streams.video[0], big.streams.video[0]
        assert (s.width, s.height, s.codec_context.name) == (160, 90, "h264")
        assert (s.frames, s.average_rate) == (b.frames, b.average_rate) == (40, 10)
        keyframes = [i for i, p in enumerate(p for p in small.demux(s) if p.size) if p.is_keyframe]
        assert keyframes == [0, 20]  # restarts on a keyframe, as the main loop does
        small.seek(0)
        frame = next(small.decode(video=0)).to_ndarray(format="rgb24")
    # the same picture, scaled: the first frames agree at the small size
    main = np.asarray(Image.fromarray(first_frame(Path(cameras["sim-1"].main.url))).resize((160, 90), Image.BOX))
    assert np.abs(main.astype(int) - frame.astype(int)).mean() < 12
    # a second start finds both files and writes neither again
    stamp = Path(sub.url).stat().st_mtime_ns
    again = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    await again.start_rendering()
    assert all(r.cached for r in again.rendered.values()) and Path(sub.url).stat().st_mtime_ns == stamp


def test_a_camera_may_set_its_own_sub_size_and_none_larger_than_the_main_is_accepted(make_deployment):
    from plugins.traffic_sim.config import Config

    cfg = Config.model_validate({"resolution": "1280x720", "sub_resolution": "640x360", "cameras": [
        {"id": "a", "name": "A", "area": "x"}, {"id": "b", "name": "B", "area": "x", "sub_resolution": "960x540"},
        {"id": "c", "name": "C", "area": "x", "sub_stream": False}]})
    assert [cfg.sub_size(c) for c in cfg.cameras] == [(640, 360), (960, 540), None]
    plain = Config.model_validate({"cameras": [{"id": "a", "name": "A", "area": "x"}]})
    assert plain.sub_size(plain.cameras[0]) is None  # no sub_resolution anywhere: the main stream only

    dep = make_deployment('[plugins.traffic_sim]\nresolution = "640x360"\nsub_resolution = "960x540"\n')
    result = bconnect("check-config", str(dep.path))
    assert result.returncode == 2
    assert "[plugins.traffic_sim.sub_resolution] the sub stream (960x540) must not be larger than the main" in result.stderr
    dep = make_deployment('[plugins.traffic_sim]\nresolution = "640x360"\n\n[[plugins.traffic_sim.cameras]]\n'
                          'id = "s"\nname = "S"\narea = "beller"\nsub_resolution = "650x360"\n')
    result = bconnect("check-config", str(dep.path))
    assert result.returncode == 2 and "camera 's': the sub stream (650x360) must not be larger" in result.stderr


async def test_shutdown_stops_a_render_and_leaves_no_partial_file(make_deployment):
    dep = make_deployment(SIM_TOML.replace("loop_seconds = 4", "loop_seconds = 60"))
    sim = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    sim_dir = dep.data_dir / "sim"
    sim.start_rendering()
    for _ in range(200):  # the event loop stays free while the worker thread renders
        if sim_dir.is_dir() and any(sim_dir.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert [p.name.startswith(".") for p in sim_dir.iterdir()] == [True]  # a partial file, hidden
    started = time.monotonic()
    await sim.bconnect_shutdown(None)
    assert time.monotonic() - started < 2
    assert sim.rendered == {} and list(sim_dir.iterdir()) == []


async def test_a_failed_render_is_reported_not_raised(make_deployment):
    dep = make_deployment(SIM_TOML)
    dep.data_dir.mkdir(parents=True)
    (dep.data_dir / "sim").write_text("a file where the render folder should be")
    sim = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    await sim.start_rendering()
    health = sim.bconnect_health(None)
    assert health["status"] == "degraded" and set(health["failed"]) == {"sim-1", "sim-2"}
    assert health["reason"].startswith("render failed: sim-1: RuntimeError:")


def test_check_config_rejects_bad_simulator_tables(make_deployment):
    dep = make_deployment(
        """
[[plugins.traffic_sim.cameras]]
id = "ok-1"
name = "OK"
area = "beller"

[[plugins.traffic_sim.cameras]]
id = "bad-1"
name = "Bad"
area = "wika"
scenario = "traffic_jam"
colour = "red"
"""
    )
    result = bconnect("check-config", str(dep.path))
    assert result.returncode == 2, result.stdout
    lines = dep.path.read_text().splitlines()
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3, errors
    area_line = next(i for i, line in enumerate(lines, 1) if line == 'area = "wika"')
    scenario_line = next(i for i, line in enumerate(lines, 1) if "traffic_jam" in line)
    colour_line = next(i for i, line in enumerate(lines, 1) if line.startswith("colour"))
    assert f"{dep.path}:{area_line}: [plugins.traffic_sim.cameras[1].area] unknown area 'wika'" in errors[0]
    assert f"{dep.path}:{scenario_line}: [plugins.traffic_sim.cameras[1].scenario]" in errors[1]
    assert "'free_flow'" in errors[1] and "'crowd'" in errors[1]
    assert f"{dep.path}:{colour_line}: [plugins.traffic_sim.cameras[1].colour] unknown key" in errors[2]


def test_check_config_rejects_bad_resolution_and_loop(make_deployment):
    dep = make_deployment('[plugins.traffic_sim]\nresolution = "321x180"\nloop_seconds = 7\n')
    result = bconnect("check-config", str(dep.path))
    assert result.returncode == 2
    assert "[plugins.traffic_sim.resolution] width and height must be even" in result.stderr
    assert "[plugins.traffic_sim.loop_seconds] must be a multiple of keyframe_seconds" in result.stderr


def test_demo_deployment_passes_check_config():
    result = bconnect("check-config", str(REPO / "deploy" / "demo.toml"))
    assert result.returncode == 0, result.stderr
    assert "traffic_sim" in result.stdout
    cfg = load_file(REPO / "deploy" / "demo.toml")
    cams = cfg.deployment.plugins["traffic_sim"]["cameras"]
    per_area: dict[str, int] = {}
    for cam in cams:
        per_area[cam["area"]] = per_area.get(cam["area"], 0) + 1
    # two cameras or more in each area (a junction camera in each): areas grow as scenarios are added
    assert set(per_area) == {"beruang_madu", "beller", "balikpapan_baru", "wika"} and min(per_area.values()) >= 3
    # the accident watch's person_down and hard negatives are not on a demo camera: its alert shows on the
    # collision camera, and a hard negative shows nothing
    assert {c["scenario"] for c in cams} == set(SCENARIOS) - {"person_down", "bus_stop", "stop_line_stop"}


def test_live_server_shows_simulated_camera_online(make_deployment, start_server):
    dep = make_deployment(SIM_TOML)
    token = make_tokens(dep.path, [("adm", "admin", "pemkot")])["adm"]  # camera and plugin detail need a user
    server = start_server(dep)
    request = urllib.request.Request(server.url + "/api/health", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 60
    cameras: dict = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request) as r:
            health = json.load(r)
        cameras = health["cameras"]
        if all(cameras.get(c, {}).get("state") == "online" for c in ("sim-1", "sim-2")):
            break
        time.sleep(0.3)
    assert cameras["sim-1"]["state"] == "online", (cameras, server.log()[-2000:])
    assert cameras["sim-2"]["state"] == "online", cameras
    assert (cameras["sim-1"]["codec"], cameras["sim-1"]["width"], cameras["sim-1"]["height"]) == ("h264", 320, 180)
    report = health["plugins"]["traffic_sim"]["report"]
    assert report["ready"] == 2 and report["rendering"] == [] and report["failed"] == {}


def test_a_rendered_frame_looks_like_a_street(tmp_path):
    """Saves a full-size frame under tests/_generated/ for a person to look at; checks colours."""
    spec = RenderSpec("no_parking_stop", 11, width=960, height=540, fps=15, loop_seconds=30, label="SIM Beruang Madu 1")
    renderer = Renderer(spec)
    pixels, objects = renderer.frame(200)
    GENERATED.mkdir(exist_ok=True)
    Image.fromarray(pixels).save(GENERATED / "traffic_sim_no_parking_stop.png")
    kinds = {o["id"].split(".")[0] for o in objects}
    assert "parker" in kinds and len(objects) >= 8
    # the plate region of the parked car holds both light and dark pixels: text on a plate
    parker = next(o for o in objects if o["id"] == "parker")
    x0, y0, x1, y1 = parker["plate_bbox"]
    plate = pixels[y0:y1, x0:x1].mean(axis=2)
    assert x1 - x0 >= 30 and plate.max() > 180 and plate.min() < 80


def test_scoring_matches_detections_to_the_truth_by_group_size_and_cover():
    from core.analytics.detector import Detection
    from plugins.traffic_sim.scoring import score_frame

    classes = {"bus": "bus", "car": "car", "behind": "car", "far": "car", "walker": "person"}
    objects = [
        {"id": "bus", "bbox": [100, 100, 400, 300], "depth": 10.0},
        {"id": "behind", "bbox": [150, 120, 300, 250], "depth": 20.0},  # wholly behind the bus: ignored
        {"id": "car", "bbox": [500, 100, 700, 200], "depth": 12.0},
        {"id": "far", "bbox": [800, 100, 830, 120], "depth": 60.0},  # 20 px tall: not counted
        {"id": "walker", "bbox": [900, 100, 940, 200], "depth": 15.0},
    ]
    dets = [
        Detection("truck", 0.9, 100, 100, 400, 300),  # the bus, as a truck: found (same group)
        Detection("car", 0.8, 150, 120, 300, 250),  # the hidden car: not counted as found, yet not a false one
        Detection("person", 0.7, 500, 100, 700, 200),  # the car as a person: a miss and a false person
        Detection("car", 0.6, 800, 100, 830, 120),  # the far car: under 40 px, in neither recall nor precision
    ]
    score = score_frame(0, objects, classes, dets)
    vehicles, people = score.groups["vehicle"], score.groups["person"]
    assert (vehicles.found, vehicles.missed, vehicles.correct, vehicles.wrong) == (1, 1, 2, 0)
    assert (people.found, people.missed, people.correct, people.wrong) == (0, 1, 0, 1)
    assert {oid for _, oid, _ in score.misses} == {"car", "walker"}


def test_a_junctions_lamp_follows_its_cycle_and_the_truth_tells_its_zones_head_and_calibration(renders):
    from plugins.etle_rules.signal import read_lamp

    _, truth = renders["red_light"]
    lit = [f.get("signal") for f in truth["frames"]]
    n = len(lit)
    assert lit[0] == "green" and lit[int(0.3 * n)] == "red" and lit[int(0.8 * n)] == "green"
    assert {z["kind"] for z in truth["zones"]} >= {"stop_line", "traffic_lane"}
    assert all(z.get("direction") for z in truth["zones"] if z["kind"] == "traffic_lane")
    x1, y1, x2, y2 = truth["signal_head"]["box"]
    assert 0 <= x1 < x2 <= truth["width"] and 0 <= y1 < y2 <= truth["height"]
    with av.open(str(renders["red_light"][0].video)) as container:
        pictures = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    box = (x1 / truth["width"], y1 / truth["height"], x2 / truth["width"], y2 / truth["height"])
    assert read_lamp(pictures[int(0.3 * n)], box) == "red" and read_lamp(pictures[int(0.8 * n)], box) == "green"
    _, speeding = renders["speeding"]
    cal = speeding["calibration"]
    assert cal["distance_m"] == 20.0 and len(cal["lines"]) == 2 and "signal_head" not in speeding
    assert "calibration" not in truth and "calibration" not in renders["free_flow"][1]


def test_scoring_ignores_objects_the_picture_shows_under_half_of():
    from core.analytics.detector import Detection
    from plugins.traffic_sim.scoring import score_frame

    classes = {"bus": "bus", "behind": "person", "beside": "person"}
    objects = [
        {"id": "bus", "bbox": [100, 100, 400, 300], "depth": 10.0, "visible": 1.0},
        {"id": "behind", "bbox": [150, 120, 190, 250], "depth": 20.0, "visible": 0.3},  # mostly behind the bus
        # its box lies within the bus's box, yet most of it is in sight (above the bus's roof, say)
        {"id": "beside", "bbox": [300, 120, 340, 250], "depth": 20.0, "visible": 0.8},
    ]
    dets = [Detection("bus", 0.9, 100, 100, 400, 300), Detection("person", 0.8, 150, 120, 190, 250)]
    score = score_frame(0, objects, classes, dets)
    people = score.groups["person"]
    # the hidden one found is neither counted nor false; the one in sight but not found is a miss
    assert (people.found, people.missed, people.correct, people.wrong) == (0, 1, 1, 0)
    assert [oid for _, oid, _ in score.misses] == ["beside"]
    assert [oid for _, oid, _ in score.hits] == ["bus"]  # what was counted and found, for recall per class


def test_scoring_ignores_objects_mostly_outside_the_picture():
    from core.analytics.detector import Detection
    from plugins.traffic_sim.scoring import score_frame

    classes = {"sliver": "car", "half": "car", "most": "car"}
    objects = [
        # a car driving out at the right edge: a 30 px sliver of it is left, fully in sight
        {"id": "sliver", "bbox": [1250, 300, 1280, 420], "depth": 12.0, "visible": 1.0, "in_frame": 0.15},
        # most of the car is in the picture, but half of that is behind something: a quarter is shown
        {"id": "half", "bbox": [600, 300, 760, 400], "depth": 20.0, "visible": 0.5, "in_frame": 0.5},
        {"id": "most", "bbox": [100, 300, 260, 400], "depth": 20.0, "visible": 0.9, "in_frame": 0.7},
    ]
    score = score_frame(0, objects, classes, [Detection("car", 0.9, 1250, 300, 1280, 420)])
    cars = score.groups["vehicle"]
    # the sliver found is neither a hit nor a false box; the car 70 % in the picture, missed, is a miss
    assert (cars.found, cars.missed, cars.correct, cars.wrong) == (0, 1, 1, 0)
    assert [oid for _, oid, _ in score.misses] == ["most"]


def test_truth_says_how_much_of_each_object_lies_inside_the_picture():
    renderer = Renderer(RenderSpec("free_flow", 101, 1280, 720, 15, 30))
    _, objects = renderer.frame(30)
    share = {o["id"]: o["in_frame"] for o in objects}
    assert all(0.0 <= v <= 1.0 for v in share.values())
    # a car leaving at the right edge: its box is clipped to the picture, and in_frame says how little is left
    cut = next(o for o in objects if o["bbox"][2] == 1280 and o["in_frame"] < 0.5)
    assert cut["bbox"][2] - cut["bbox"][0] < 0.5 * (cut["bbox"][3] - cut["bbox"][1])
    assert sum(v == 1.0 for v in share.values()) >= len(share) - 3


def test_truth_says_how_much_of_each_object_the_picture_shows():
    renderer = Renderer(RenderSpec("crowd", 101, 1280, 720, 15, 30))
    _, objects = renderer.frame(150)
    seen = {o["id"]: o["visible"] for o in objects}
    assert all(0.0 <= v <= 1.0 for v in seen.values())
    # people standing on the far sidewalk behind the bus that passes them: in the truth, not in the picture
    assert sum(1 for oid, v in seen.items() if oid.startswith("crowd") and v == 0.0) >= 2, seen
    assert seen["p4"] == 1.0  # a walker on the near sidewalk, nothing in front of it
