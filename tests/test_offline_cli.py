"""``bconnect check-config`` and ``bconnect cameras list`` on the shipped files touch no network.

The command runs in a child Python with an audit hook (PEP 578) that records
every socket connect and every name lookup; the shipped deployment files name
their cameras under ``.invalid`` and their drivers do no I/O before they are
started, so the record must stay empty. A deployment with an ONVIF device
(which the listing does contact) shows that the hook sees a connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["plugins.toml", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "deploy").glob("*.toml"))]

WATCHED = """
import json, runpy, socket, sys

seen = []

def hook(event, args):
    if event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        seen.append(f"connect {args[1]!r}")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.sendto"):
        seen.append(f"{event} {args[0]!r}")

sys.addaudithook(hook)
sys.argv = ["bconnect", *sys.argv[1:]]
try:
    runpy.run_module("core.cli", run_name="__main__")
finally:
    print("NETWORK " + json.dumps(seen), file=sys.stderr)
"""


def bconnect_watched(*args: str, cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", WATCHED, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = next((x for x in result.stderr.splitlines() if x.startswith("NETWORK ")), None)
    assert line is not None, result.stderr[-2000:]
    return result, json.loads(line.removeprefix("NETWORK "))


@pytest.mark.parametrize("config", SHIPPED)
def test_check_config_opens_no_connection(config):
    result, network = bconnect_watched("check-config", config)
    assert result.returncode == 0, result.stderr
    assert network == [], network


@pytest.mark.parametrize("config", SHIPPED)
def test_cameras_list_opens_no_connection(config):
    result, network = bconnect_watched("cameras", "list", "--config", config, "--json")
    assert result.returncode == 0, result.stderr
    cameras = json.loads(result.stdout)
    assert network == [], network
    assert all(set(c) == {"id", "agency", "area", "driver", "capabilities", "presets"} for c in cameras)


def test_plugins_toml_lists_the_fleets_without_contacting_them():
    result, network = bconnect_watched("cameras", "list", "--config", "plugins.toml")
    assert result.returncode == 0 and network == []
    assert result.stdout.rstrip().endswith("53 cameras"), result.stdout[-300:]  # 37 Dishub + 16 Polri


def test_the_watch_sees_a_connection(tmp_path, closed_port):
    """The control: an ONVIF device is contacted by the listing, and the hook records it."""
    path = tmp_path / "onvif.toml"
    path.write_text(
        '[deployment]\nname = "t"\n\n[agencies.pemkot]\nname = "Pemkot"\n\n[plugins.onvif_camera]\n[[plugins.onvif_camera.devices]]\n'
        f'id = "cam"\nhost = "127.0.0.1"\nport = {closed_port}\nusername = "u"\npassword = "p"\ntimeout_s = 1\n'
    )
    result, network = bconnect_watched("cameras", "list", "--config", str(path))
    assert f"connect ('127.0.0.1', {closed_port})" in network, (network, result.stderr[-1000:])
    assert "unreachable" in result.stderr
