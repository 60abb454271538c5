"""``bconnect sim-render``: the simulated cameras' loops rendered before the server starts (``make run``)."""

from __future__ import annotations

from core.config import load_file
from core.plugin_host import load_plugins
from core.testing.pytest_plugin import bconnect
from plugins.traffic_sim import cache

SIM = """
[plugins.traffic_sim]
resolution = "320x180"
fps = 5
loop_seconds = 2
keyframe_seconds = 1

[[plugins.traffic_sim.cameras]]
id = "sim-a"
name = "A"
area = "beller"
scenario = "free_flow"

[[plugins.traffic_sim.cameras]]
id = "sim-b"
name = "B"
area = "beller"
scenario = "crowd"
"""


def test_every_loop_is_rendered_once_then_found_cached(make_deployment):
    dep = make_deployment(SIM)
    r = bconnect("sim-render", "--config", str(dep.path), "--workers", "2", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "camera sim-a: rendered in" in r.stdout and "camera sim-b: rendered in" in r.stdout
    assert "2 rendered, 0 failed" in r.stdout
    plugin = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    assert all(cache.is_cached(spec, plugin.sim_dir) for spec in plugin.specs.values())  # what the server will read

    again = bconnect("sim-render", "--config", str(dep.path), timeout=60)
    assert again.returncode == 0 and again.stdout.splitlines() == ["camera sim-a: cached", "camera sim-b: cached"]

    bad = bconnect("sim-render", "--config", str(dep.path), "--workers", "0", timeout=60)
    assert bad.returncode == 2 and "--workers must be 1 or more" in bad.stdout


def test_a_sub_resolution_is_written_with_each_loop_and_added_to_loops_rendered_before(make_deployment):
    dep = make_deployment(SIM)
    assert bconnect("sim-render", "--config", str(dep.path), timeout=120).returncode == 0  # loops, no sub streams
    dep.path.write_text(dep.path.read_text().replace('keyframe_seconds = 1\n', 'keyframe_seconds = 1\nsub_resolution = "160x90"\n'))
    plugin = load_plugins(load_file(dep.path)).pm.get_plugin("traffic_sim")
    assert not any(plugin.ready(cam) for cam in plugin.specs)  # the loops are there, their sub streams not yet
    r = bconnect("sim-render", "--config", str(dep.path), "--workers", "2", timeout=120)
    assert r.returncode == 0 and "2 rendered, 0 failed" in r.stdout, r.stdout + r.stderr
    assert all(plugin.ready(cam) and plugin.sub_video_path(cam).is_file() for cam in plugin.specs)
    again = bconnect("sim-render", "--config", str(dep.path), timeout=60)
    assert again.stdout.splitlines() == ["camera sim-a: cached", "camera sim-b: cached"]
