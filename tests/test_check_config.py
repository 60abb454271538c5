"""``bconnect check-config``: the shipped deployments pass; each mistake is one precise line.

Every rejection is checked through the real command in a subprocess: exit code,
``error: FILE:LINE: [key.path] reason`` with the line of the culprit, and no
traceback on stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.testing.pytest_plugin import bconnect
from support.thirdparty import thirdparty  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
ERROR = re.compile(r"^error: (?P<file>.+?):(?P<line>\d+): \[(?P<key>.+?)\] (?P<reason>.+)$")

MINIMAL = """\
[deployment]
name = "Test"

[server]
data_dir = "{data_dir}"
"""


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    hits = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if needle in text]
    assert len(hits) >= nth, f"{needle!r} not in {path}"
    return hits[nth - 1]


def rejected(path: Path, env: dict[str, str] | None = None) -> list[re.Match[str]]:
    """Run check-config, expect failure, return the parsed error lines."""
    result = bconnect("check-config", str(path), env=env)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    matches = [ERROR.match(line) for line in lines]
    assert all(matches), f"not one-line errors:\n{result.stderr}"
    return matches  # type: ignore[return-value]


def one_error(path: Path, env: dict[str, str] | None = None) -> re.Match[str]:
    errors = rejected(path, env)
    assert len(errors) == 1, [e.group(0) for e in errors]
    assert errors[0]["file"] == str(path)
    return errors[0]


def write(tmp_path: Path, text: str, name: str = "deployment.toml") -> Path:
    path = tmp_path / name
    path.write_text(text.format(data_dir=(tmp_path / "data").as_posix()))
    return path


@pytest.mark.parametrize("name", ["plugins.toml", "deploy/dishub.toml", "deploy/polri.toml"])
def test_shipped_deployments_are_valid(name):
    result = bconnect("check-config", str(ROOT / name))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and result.stderr == ""


def test_shipped_agency_deployments_hold_only_their_agency():
    dishub = bconnect("check-config", str(ROOT / "deploy/dishub.toml")).stdout
    polri = bconnect("check-config", str(ROOT / "deploy/polri.toml")).stdout
    assert "dishub_cameras" in dishub and "polri_etle" not in dishub
    assert "polri_etle" in polri and "dishub_cameras" not in polri


def test_missing_file_is_one_line(tmp_path):
    result = bconnect("check-config", str(tmp_path / "nope.toml"))
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: cannot read: No such file or directory"


def test_broken_toml(tmp_path):
    path = write(tmp_path, MINIMAL + "\n[areas.beller]\nname = \"Beller\nenabled = true\n")
    err = one_error(path)
    assert int(err["line"]) == line_of(path, 'name = "Beller')
    assert err["reason"].startswith("invalid TOML")


def test_unknown_plugin(make_deployment):
    d = make_deployment("[plugins.parking_rule]\ndwell_s = 60\n\n[plugins.parkng_rule]\ndwell_s = 60\n")
    err = one_error(d.path)
    assert int(err["line"]) == line_of(d.path, "[plugins.parkng_rule]")
    assert err["key"] == "plugins.parkng_rule"
    assert "unknown plugin 'parkng_rule'" in err["reason"] and "parking_rule" in err["reason"]


def test_unknown_key_in_core_table(tmp_path):
    path = write(tmp_path, MINIMAL + "max_viewer_total = 10\n")
    err = one_error(path)
    assert (int(err["line"]), err["key"], err["reason"]) == (line_of(path, "max_viewer_total"), "server.max_viewer_total", "unknown key")


def test_unknown_key_in_plugin_table(make_deployment):
    d = make_deployment("[plugins.parking_rule]\ndwell_s = 60\ndwel_s = 60\n")
    err = one_error(d.path)
    assert (int(err["line"]), err["key"], err["reason"]) == (line_of(d.path, "dwel_s"), "plugins.parking_rule.dwel_s", "unknown key")


def test_wrong_type_in_core_and_plugin_tables(tmp_path):
    path = write(tmp_path, MINIMAL + 'port = "eighty"\n\n[plugins.crime_watch]\nloiter_s = "long"\n')
    port = one_error(path)  # the core part is checked first: its mistakes stop the run
    assert (int(port["line"]), port["key"]) == (line_of(path, "port ="), "server.port")
    assert port["reason"].startswith("wrong type") and "'eighty'" in port["reason"]

    path.write_text(path.read_text().replace('port = "eighty"', "port = 8081"))
    loiter = one_error(path)
    assert (int(loiter["line"]), loiter["key"]) == (line_of(path, "loiter_s"), "plugins.crime_watch.loiter_s")
    assert loiter["reason"].startswith("wrong type")


def test_missing_value_points_at_its_table(tmp_path):
    path = write(tmp_path, '# a deployment\n\n[deployment]\ntimezone = "Asia/Makassar"\n\n[areas.wika]\nenabled = true\n')
    errors = rejected(path)
    got = {(e["key"], int(e["line"]), e["reason"]) for e in errors}
    assert got == {
        ("deployment.name", line_of(path, "[deployment]"), "missing value"),
        ("areas.wika.name", line_of(path, "[areas.wika]"), "missing value"),
    }


def test_a_close_up_zone_kind_that_does_not_exist_names_its_line(tmp_path):
    path = write(tmp_path, MINIMAL + '\n[analytics]\ncloseup_kinds = ["watched_area", "sidewalk"]\n')
    err = one_error(path)
    assert (int(err["line"]), err["key"]) == (line_of(path, "closeup_kinds"), "analytics.closeup_kinds")
    assert "sidewalk" in err["reason"]


def test_an_unknown_analytics_decode_mode_names_its_line(tmp_path):
    path = write(tmp_path, MINIMAL + '\n[analytics]\ndecode = "gpu"\n')
    err = one_error(path)
    assert (int(err["line"]), err["key"]) == (line_of(path, "decode"), "analytics.decode")
    assert "'thread' or 'process'" in err["reason"]


def test_bad_values(tmp_path):
    path = write(
        tmp_path,
        MINIMAL.replace('name = "Test"', 'name = "Test"\ntimezone = "Asia/Nowhere"')
        + 'database_url = "mysql://x"\n\n[access.martians]\ncameras = []\n',
    )
    got = {e["key"]: (int(e["line"]), e["reason"]) for e in rejected(path)}
    assert got["deployment.timezone"] == (line_of(path, "timezone"), "unknown time zone 'Asia/Nowhere' (e.g. Asia/Makassar)")
    assert got["server.database_url"][0] == line_of(path, "database_url")
    assert got["access.martians"][0] == line_of(path, "[access.martians]")
    assert "'martians' is not allowed" in got["access.martians"][1]


def test_every_reference_to_an_undeclared_agency_is_refused_with_its_line(tmp_path):
    """Agencies are deployment data: [access], a camera's agency and a plugin manifest's must be in [agencies]."""
    path = write(
        tmp_path,
        MINIMAL
        + '\n[agencies.dinkes]\nname = "Dinas Kesehatan"\n\n[access.dinkes]\ncameras = ["dinkes", "bpbd"]\n\n'
        "[access.bpbd]\ndata = []\n\n"
        '[plugins.stream_url]\ncameras = [{{ id = "a", name = "A", url = "rtsp://127.0.0.1:1/a", agency = "damkar" }}]\n\n'
        '[plugins.dishub_cameras]\nurl_template = "rtsp://{{id}}.invalid/"\n',
    )
    got = {e["key"]: (int(e["line"]), e["reason"]) for e in rejected(path)}
    assert got["access.dinkes.cameras[1]"] == (
        line_of(path, '"bpbd"'), "'bpbd' is not allowed: unknown agency 'bpbd' (the deployment's [agencies] declare: dinkes)"
    )
    assert got["access.bpbd"][0] == line_of(path, "[access.bpbd]")
    assert len(got) == 2  # the core part is checked first: its mistakes stop the run

    path.write_text(path.read_text().replace(', "bpbd"', "").replace("[access.bpbd]\ndata = []\n", ""))
    got = {e["key"]: (int(e["line"]), e["reason"]) for e in rejected(path)}
    assert got == {
        "plugins.stream_url.cameras[0].agency": (
            line_of(path, '"damkar"'), "unknown agency 'damkar' (the deployment's [agencies] declare: dinkes)"
        ),
        "plugins.dishub_cameras": (
            line_of(path, "[plugins.dishub_cameras]"),
            "plugin 'dishub_cameras' serves an agency this deployment lacks: "
            "unknown agency 'dishub' (the deployment's [agencies] declare: dinkes)",
        ),
    }

    path.write_text(path.read_text().replace('"damkar"', '"dinkes"').replace("dishub_cameras", "polri_etle"))
    assert "polri" in one_error(path)["reason"]


def test_arrays_of_tables_point_at_the_right_element(make_deployment):
    d = make_deployment(
        """
        [[plugins.stream_url.cameras]]
        id = "cam-1"
        name = "One"
        url = "rtsp://127.0.0.1/one"

        [[plugins.stream_url.cameras]]
        id = "cam-2"
        name = "Two"
        url = "rtsp://127.0.0.1/two"
        transport = "carrier-pigeon"
        """
    )
    err = one_error(d.path)
    assert err["key"] == "plugins.stream_url.cameras[1].transport"
    assert int(err["line"]) == line_of(d.path, "carrier-pigeon")


def test_missing_key_in_second_array_element_points_at_its_header(make_deployment):
    d = make_deployment(
        """
        [[plugins.stream_url.cameras]]
        id = "cam-1"
        name = "One"
        url = "rtsp://127.0.0.1/one"

        [[plugins.stream_url.cameras]]
        id = "cam-2"
        name = "Two"
        """
    )
    err = one_error(d.path)
    assert (err["key"], err["reason"]) == ("plugins.stream_url.cameras[1].url", "missing value")
    assert int(err["line"]) == line_of(d.path, "[[plugins.stream_url.cameras]]", nth=2)


@pytest.mark.parametrize(
    ("plugin", "table", "entry", "what"),
    [
        ("stream_url", "cameras", 'name = "Gate"\nurl = "rtsp://gate.pemkot.invalid/s"', "camera id"),
        ("traffic_sim", "cameras", 'name = "Sim"\narea = "beller"', "camera id"),
        ("onvif_camera", "devices", 'host = "cam.dishub.invalid"', "device id"),
    ],
)
def test_repeated_camera_id_points_at_the_list(make_deployment, plugin, table, entry, what):
    header = f"[[plugins.{plugin}.{table}]]"
    d = make_deployment("".join(f'{header}\nid = "{i}"\n{entry}\n\n' for i in ("cam-1", "cam-2", "cam-1")))
    err = one_error(d.path)
    assert (err["key"], err["reason"]) == (f"plugins.{plugin}.{table}", f"{what} repeated: cam-1")
    assert int(err["line"]) == line_of(d.path, header)


def test_inline_tables_in_a_multiline_array(make_deployment):
    d = make_deployment(
        """
        [plugins.parking_rule]
        windows = [
          { start = "16:00", end = "19:00" },
          { start = "06:00", end = "9 am" },
        ]
        """
    )
    err = one_error(d.path)
    assert err["key"] == "plugins.parking_rule.windows[1].end"
    assert int(err["line"]) == line_of(d.path, "9 am")


def test_dotted_keys(tmp_path):
    path = write(tmp_path, MINIMAL + '\n[plugins]\ncrime_watch.loiter_s = 60\ncrime_watch.crowd = 3\n')
    err = one_error(path)
    assert (err["key"], int(err["line"])) == ("plugins.crime_watch.crowd", line_of(path, "crime_watch.crowd"))


def test_several_mistakes_each_get_a_line(make_deployment):
    d = make_deployment("[plugins.parking_rule]\ndwel_s = 1\n\n[plugins.crime_watch]\ncrowd_size = 1\n\n[plugins.nope]\n")
    keys = {(e["key"], int(e["line"])) for e in rejected(d.path)}
    assert keys == {
        ("plugins.parking_rule.dwel_s", line_of(d.path, "dwel_s")),
        ("plugins.crime_watch.crowd_size", line_of(d.path, "crowd_size")),
        ("plugins.nope", line_of(d.path, "[plugins.nope]")),
    }


def test_plugin_that_fails_to_import(make_deployment, thirdparty):
    d = make_deployment("[plugins.tp_broken]\n")
    err = one_error(d.path, env=thirdparty.env)
    assert int(err["line"]) == line_of(d.path, "[plugins.tp_broken]")
    assert err["key"] == "plugins.tp_broken"
    assert "plugin 'tp_broken' (from bconnect-test-plugins) failed to import" in err["reason"]
    assert "cannot find its vendor SDK" in err["reason"]


def test_plugin_that_needs_a_plugin_not_enabled(make_deployment, thirdparty):
    d = make_deployment("[plugins.parking_rule]\n\n[plugins.tp_needs]\n")
    err = one_error(d.path, env=thirdparty.env)
    assert int(err["line"]) == line_of(d.path, "[plugins.tp_needs]")
    assert err["reason"] == "plugin 'tp_needs' needs plugin 'tp_hello', which is not enabled"
    # enabling what it needs makes the deployment valid
    d.path.write_text(d.path.read_text() + "\n[plugins.tp_hello]\n")
    assert bconnect("check-config", str(d.path), env=thirdparty.env).returncode == 0


def test_misspelt_hook_implementation_fails_loudly(make_deployment, thirdparty):
    d = make_deployment("[plugins.tp_misspelt]\n")
    err = one_error(d.path, env=thirdparty.env)
    assert int(err["line"]) == line_of(d.path, "[plugins.tp_misspelt]")
    assert err["reason"] == (
        "plugin 'tp_misspelt' implements unknown hook 'bconnect_register_route' "
        "(did you mean 'bconnect_register_routes'?)"
    )


def test_unknown_area(make_deployment, thirdparty):
    d = make_deployment('[plugins.tp_hello]\narea = "klandasan"\n')
    err = one_error(d.path, env=thirdparty.env)
    assert (err["key"], int(err["line"])) == ("plugins.tp_hello.area", line_of(d.path, "klandasan"))
    assert err["reason"].startswith("unknown area 'klandasan'")
    d.path.write_text(d.path.read_text().replace("klandasan", "beller"))
    assert bconnect("check-config", str(d.path), env=thirdparty.env).returncode == 0


def test_enabled_must_be_a_boolean(make_deployment):
    d = make_deployment('[plugins.crime_watch]\nenabled = "no"\n')
    err = one_error(d.path)
    assert (err["key"], int(err["line"])) == ("plugins.crime_watch.enabled", line_of(d.path, "enabled = \"no\""))


def test_third_party_plugin_is_enabled_like_a_builtin(make_deployment, thirdparty):
    d = make_deployment('[plugins.tp_hello]\ngreeting = "selamat pagi"\n\n[plugins.parking_rule]\n')
    result = bconnect("check-config", str(d.path), env=thirdparty.env)
    assert result.returncode == 0, result.stderr
    assert "tp_hello" in result.stdout and "parking_rule" in result.stdout
    # its typed config rejects unknown keys like a built-in's
    d.path.write_text(d.path.read_text().replace("greeting", "greting"))
    err = one_error(d.path, env=thirdparty.env)
    assert (err["key"], err["reason"]) == ("plugins.tp_hello.greting", "unknown key")


def test_a_plugin_not_enabled_is_never_imported(make_deployment, thirdparty):
    d = make_deployment("[plugins.tp_hello]\n\n[plugins.tp_lazy]\nenabled = false\n")
    assert bconnect("check-config", str(d.path), env=thirdparty.env).returncode == 0
    assert not thirdparty.imported("tp_lazy")
    # the marker does work: enabling the plugin imports it
    d.path.write_text(d.path.read_text().replace("enabled = false", "enabled = true"))
    assert bconnect("check-config", str(d.path), env=thirdparty.env).returncode == 0
    assert thirdparty.imported("tp_lazy")


def test_media_settings_are_checked_with_their_line(tmp_path):
    path = write(tmp_path, MINIMAL + "\n[media]\ningest_processes = -1\nbackoff_base_s = 5\nbackoff_cap_s = 1\nretries = 3\n")
    got = {e["key"]: (int(e["line"]), e["reason"]) for e in rejected(path)}
    assert got["media.ingest_processes"][0] == line_of(path, "ingest_processes")
    assert got["media.backoff_cap_s"] == (line_of(path, "backoff_cap_s"), "must not be less than backoff_base_s (5)")
    assert got["media.retries"][0] == line_of(path, "retries")


def test_trusted_proxies_must_be_addresses_or_networks(tmp_path):
    path = write(tmp_path, MINIMAL + 'trusted_proxies = ["10.0.0.5", "10.1.0.0/16", "proxy.example"]\n')
    error = one_error(path)
    assert error["key"] == "server.trusted_proxies[2]" and int(error["line"]) == line_of(path, "trusted_proxies = ")
    assert error["reason"].startswith("'proxy.example' is not an IP address or network")
    ok = write(tmp_path, MINIMAL + 'trusted_proxies = ["10.0.0.5", "fd00::/8"]\n', "ok.toml")
    assert bconnect("check-config", str(ok)).returncode == 0


def test_the_reconnect_probe_interval_is_checked_with_its_file_line_and_key(tmp_path):
    path = write(tmp_path, MINIMAL + "\n[media]\nprobe_interval_s = -0.5\n")
    (err,) = [e for e in rejected(path) if e["key"] == "media.probe_interval_s"]
    assert int(err["line"]) == line_of(path, "probe_interval_s") and "greater than or equal to 0" in err["reason"]
    assert err["file"] == str(path)
