"""``bench/demo_alerts.py``'s copy of the demo's deployment: valid, on its own port and folder, a subset of cameras.

The script itself starts a real server for minutes (renders, the detector on CPU): too long for the suite.
Here only what it runs the server on is checked, against the real config loader.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.config import load_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import demo_alerts  # noqa: E402


def test_the_copy_of_the_demo_loads_with_its_own_port_folder_and_only_the_cameras_asked_for(tmp_path):
    data = tmp_path / "run" / "data"
    data.mkdir(parents=True)
    path = demo_alerts.deployment_copy(ROOT / "deploy" / "demo.toml", 18099, data, {"sim-bm-1", "sim-bpb-1", "vtest"})
    cfg = load_file(path).deployment
    assert cfg.server.port == 18099 and Path(cfg.server.data_dir) == data
    sims = [c["id"] for c in cfg.plugins["traffic_sim"]["cameras"]]
    assert sims == ["sim-bm-1", "sim-bpb-1"]
    assert [c["id"] for c in cfg.plugins["stream_url"]["cameras"]] == ["vtest"]
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in cfg.analytics.zone_files)
    assert Path(cfg.plugins["stream_url"]["cameras"][0]["url"]).is_absolute()


def test_a_sign_violation_is_named_by_its_offence():
    assert demo_alerts.kind_of({"kind": "sign.violation", "detail": {"offence": "wrong_way"}}) == "sign.violation:wrong_way"
    assert demo_alerts.kind_of({"kind": "crime.crowd", "detail": {}}) == "crime.crowd"
