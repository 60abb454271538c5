"""``bconnect cameras list``: text and JSON, without starting the server.

The ONVIF camera is the device EMULATOR of tests/support/onvif_emulator.py.
"""

from __future__ import annotations

import json

import pytest
from support.onvif_emulator import OnvifEmulator

from core.testing.pytest_plugin import bconnect

SECRET = "cli-secret-pw"


@pytest.fixture
def emulator():
    emu = OnvifEmulator(password=SECRET).start()
    yield emu
    emu.stop()


def deployment(make_deployment, onvif_port: int, onvif_password: str = SECRET):
    return make_deployment(
        f"""
        [plugins.stream_url]
        cameras = [{{ id = "gate-1", name = "Gate", url = "rtsp://user:{SECRET}@127.0.0.1:1/x", agency = "pemkot", area = "beller" }}]

        [plugins.dishub_cameras]
        url_template = "rtsp://127.0.0.1:1/{{id}}"
        password = "{SECRET}"
        areas = ["beruang_madu", "beller"]

        [[plugins.onvif_camera.devices]]
        id = "onvif-1"
        host = "127.0.0.1"
        port = {onvif_port}
        username = "admin"
        password = "{onvif_password}"
        agency = "pemkot"
        area = "beruang_madu"
        timeout_s = 2
        """
    )


def test_cameras_list_json(make_deployment, emulator):
    dep = deployment(make_deployment, emulator.port)
    r = bconnect("cameras", "list", "--config", str(dep.path), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert all(set(row) == {"id", "agency", "area", "driver", "capabilities", "presets"} for row in rows)
    by_id = {row["id"]: row for row in rows}
    assert len(rows) == 1 + 20 + 1  # stream_url, Dishub's two areas, one ONVIF device
    gate = by_id["gate-1"]
    assert (gate["agency"], gate["area"], gate["driver"], gate["presets"]) == ("pemkot", "beller", "stream_url", 0)
    assert "ptz" not in gate["capabilities"]
    assert by_id["atcs-bm-01"] == {
        "id": "atcs-bm-01", "agency": "dishub", "area": "beruang_madu", "driver": "dishub_cameras",
        "capabilities": ["presets", "ptz", "zoom"], "presets": 5,
    }
    assert sum(row["presets"] for row in rows if row["driver"] == "dishub_cameras") == sum(
        by_id[i]["presets"] for i in by_id if i.startswith("atcs-")
    )
    assert by_id["onvif-1"]["capabilities"] == ["presets", "ptz", "snapshot", "zoom"] and by_id["onvif-1"]["presets"] == 3
    assert SECRET not in r.stdout + r.stderr
    assert "GetStreamUri" in emulator.ops()  # asked the device; no server was started
    assert not (dep.data_dir / "bconnect.db").exists()


def test_cameras_list_text_and_a_failing_device(make_deployment, emulator):
    dep = deployment(make_deployment, emulator.port, onvif_password="wrong-pw")
    r = bconnect("cameras", "list", "--config", str(dep.path))
    assert r.returncode == 1  # a device failed; the others are still listed
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "AGENCY", "AREA", "DRIVER", "CAPABILITIES", "PRESETS"]
    assert lines[-1] == "22 cameras"
    row = next(line.split() for line in lines if line.startswith("atcs-bl-01 "))
    assert row[:4] == ["atcs-bl-01", "dishub", "beller", "dishub_cameras"] and row[4] == "presets,ptz,zoom"
    onvif = next(line.split() for line in lines if line.startswith("onvif-1 "))
    assert onvif == ["onvif-1", "pemkot", "beruang_madu", "onvif_camera", "-", "0"]
    assert "camera 'onvif-1' (onvif_camera)" in r.stderr and "wrong username or password" in r.stderr
    assert SECRET not in r.stdout + r.stderr and "wrong-pw" not in r.stdout + r.stderr


def test_cameras_list_bad_config_names_file_line_and_key(make_deployment):
    dep = make_deployment('[plugins.dishub_cameras]\nurl_template = "rtsp://x/{camera}"\nareas = ["beller"]\n')
    r = bconnect("cameras", "list", "--config", str(dep.path))
    assert r.returncode == 2
    assert f"{dep.path}:" in r.stderr and "[plugins.dishub_cameras]" in r.stderr and "unknown field {camera}" in r.stderr
    assert "Traceback" not in r.stderr
