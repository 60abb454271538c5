"""The ``bconnect`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from core.config import ConfigErrors, LoadedConfig, load_file
from core.storage import StorageError

DEFAULT_CONFIG = "plugins.toml"


def _load(
    path: str, data_dir: str | None = None, host: str | None = None, port: int | None = None
) -> LoadedConfig:
    """Read a deployment; command-line flags (and ``BCONNECT_DATA_DIR``) override the file."""
    cfg = load_file(path)
    overrides: dict[str, object] = {}
    data_dir = data_dir or os.environ.get("BCONNECT_DATA_DIR")
    if data_dir:
        overrides["data_dir"] = data_dir
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if overrides:
        d = cfg.deployment
        d = d.model_copy(update={"server": d.server.model_copy(update=overrides)})
        cfg = LoadedConfig(cfg.path, cfg.text, d)
    return cfg


def cmd_check_config(args: argparse.Namespace) -> int:
    from core.plugin_host import load_plugins

    cfg = _load(args.file)
    host = load_plugins(cfg)
    print(f"{args.file}: ok ({len(host.enabled())} plugins: {', '.join(host.enabled()) or 'none'})")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    from core.makemigrations import make_migrations
    from core.plugin_host import load_plugins

    make_migrations(load_plugins(_load(args.config)), args.app, name=args.name, empty=args.empty)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from core.serve import serve

    return serve(_load(args.config, args.data_dir, args.host, args.port))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bconnect", description="B-Connect video management system")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a deployment file without starting it")
    p.add_argument("file")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("serve", help="start the web server with a deployment")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data-dir", help="where data lives (default: the file's data_dir, or $BCONNECT_DATA_DIR)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("makemigrations", help="developer: write migrations for changed models")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("app", nargs="?", help="one app label (core or a plugin's); default: all")
    p.add_argument("--name", help="name the new migration file")
    p.add_argument("--empty", action="store_true", help="an empty migration to fill in by hand")
    p.set_defaults(func=cmd_makemigrations)

    from core.cli_users import add_parser as add_users

    add_users(sub, _load)
    from core.cli_cameras import add_parser as add_cameras

    add_cameras(sub, _load)
    from core.cli_analyze import add_parser as add_analyze

    add_analyze(sub, _load)
    from core.audit.cli import add_parser as add_audit

    add_audit(sub, _load)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def add_plugin_commands(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Offer the enabled plugins' subcommands (``bconnect_register_commands``).

    Only when ``argv`` names a subcommand the core lacks (or asks for help): the
    deployment (``--config``, default ``plugins.toml``) is read and its plugins
    built, which the core's own commands never wait for. A deployment that does
    not load is reported when the command asked for is not a core one.
    """
    sub = _subcommands(parser)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in sub.choices or (first is None and not {"-h", "--help"} & set(argv)):
        return
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=DEFAULT_CONFIG)
    pre.add_argument("--data-dir")
    known, _ = pre.parse_known_args(argv)
    from core.plugin_host import load_plugins

    try:
        host = load_plugins(_load(known.config, known.data_dir))
    except ConfigErrors:
        if first is None:
            return  # bconnect --help without a deployment: the core's commands only
        raise
    from core.interfaces import Command

    for plugin, command in host.registered.get("bconnect_register_commands", []):
        problem = ("not a core.interfaces.Command" if not isinstance(command, Command)
                   else f"command {command.name!r} is taken" if command.name in sub.choices else None)
        if problem:
            host.report_failure(plugin, "bconnect_register_commands", ValueError(problem))
            print(f"warning: plugin {plugin}: {problem}; left out", file=sys.stderr)
            continue
        p = sub.add_parser(command.name, help=f"{command.help} (plugin {plugin})")
        p.add_argument("--config", default=DEFAULT_CONFIG)
        p.add_argument("--data-dir", help="where data lives (default: the file's data_dir, or $BCONNECT_DATA_DIR)")
        command.configure(p)
        p.set_defaults(func=lambda args, _c=command: _c.run(args, _load(args.config, args.data_dir)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        add_plugin_commands(parser, argv)
    except ConfigErrors as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigErrors as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line on the terminal, the details in the log
        logging.getLogger("bconnect.cli").debug("unexpected error", exc_info=exc)
        print(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
