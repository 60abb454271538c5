"""Plugins add ``bconnect`` subcommands through ``bconnect_register_commands``; the core's own commands
never read the deployment for them."""

from __future__ import annotations

from support.kejaksaan import KEJAKSAAN_DEPLOYMENT

from core.cli import _subcommands, add_plugin_commands, build_parser, main


def test_an_enabled_plugins_commands_are_offered_only_when_asked_for(make_deployment, tmp_path, capsys):
    dep = make_deployment(KEJAKSAAN_DEPLOYMENT)
    parser = build_parser()
    add_plugin_commands(parser, ["serve", "--config", str(tmp_path / "absent.toml")])  # a core command: no read
    assert "verify-export" not in _subcommands(parser).choices
    parser = build_parser()
    add_plugin_commands(parser, ["verify-export", "x", "--config", str(dep.path)])
    assert {"kejaksaan-export", "verify-export"} <= set(_subcommands(parser).choices)

    # a plugin command with a deployment that does not load: the file's error, exit status 2
    broken = tmp_path / "broken.toml"
    broken.write_text(dep.path.read_text().replace('weekday = "friday"', 'weekday = "someday"'))
    assert main(["verify-export", "x", "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.toml" in err and "weekday" in err

    # a command no plugin offers: argparse's own answer
    try:
        main(["no-such-command", "--config", str(dep.path)])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
