"""``bconnect audit verify|anchor``: check the audit chain and the evidence files from the shell.

``verify`` exits 0 when everything is intact and 1 with one line per finding;
it reads only, and works while the server runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "plugins.toml"  # as for ``bconnect serve``
MAX_PRINTED = 500  # findings listed; a chain rewritten wholesale would list every entry


def _run(args: argparse.Namespace, load: Callable[..., Any], work: Callable[[Any], Awaitable[int]]) -> int:
    from core.audit.anchors import AnchorError
    from core.storage import CORE_MODELS, StorageError, close_database, open_database

    cfg = load(args.config, args.data_dir)

    async def main() -> int:
        try:
            await open_database(cfg.deployment.database_url(), [CORE_MODELS])
            return await work(cfg.deployment)
        finally:
            await close_database()

    try:
        return asyncio.run(main())
    except (StorageError, AnchorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_verify(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.audit import anchors
    from core.audit.verify import verify_chain
    from core.evidence.check import verify_evidence

    async def work(deployment: Any) -> int:
        data_dir = deployment.data_path()
        path = Path(args.anchors) if args.anchors else anchors.anchors_path(data_dir)
        marks = anchors.read(path) if args.anchors or path.exists() else []
        report = await verify_chain(marks)
        problems = list(report.problems)
        print(f"audit chain: {report.entries} entries, head {report.last_seq}; {len(marks)} anchors checked"
              + (f" from {path}" if marks or args.anchors else ""))
        if args.evidence:
            evidence = await verify_evidence(data_dir)
            print(f"evidence: {evidence.files} files rehashed")
            problems += evidence.problems
        for problem in problems[:MAX_PRINTED]:
            print(f"  {problem}")
        if len(problems) > MAX_PRINTED:
            print(f"  ... and {len(problems) - MAX_PRINTED} more")
        print("intact" if not problems else f"NOT INTACT: {len(problems)} findings")
        return 0 if not problems else 1

    return _run(args, load, work)


def cmd_anchor(args: argparse.Namespace, load: Callable[..., Any]) -> int:
    from core.audit import anchors

    async def work(deployment: Any) -> int:
        anchor = await (anchors.write(deployment.data_path()) if args.write else anchors.current())
        if anchor is None:
            print("the audit chain is empty", file=sys.stderr)
            return 1
        print(anchor.to_line())
        return 0

    return _run(args, load, work)


def add_parser(sub: Any, load: Callable[..., Any]) -> None:
    p = sub.add_parser("audit", help="verify the audit chain and evidence, print its head")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    def command(name: str, help: str, func: Callable[[argparse.Namespace, Callable[..., Any]], int]) -> Any:
        c = audit_sub.add_parser(name, help=help)
        c.add_argument("--config", default=DEFAULT_CONFIG, help="deployment file (default: %(default)s)")
        c.add_argument("--data-dir", help="data folder (default: the file's, or $BCONNECT_DATA_DIR)")
        c.set_defaults(func=lambda args: func(args, load))
        return c

    c = command("verify", "walk the chain; name every edited, inserted, moved or deleted entry", cmd_verify)
    c.add_argument("--anchors", help="an anchors file to check against (default: the data folder's, if any)")
    c.add_argument("--evidence", action="store_true", help="also rehash every evidence clip and snapshot")

    c = command("anchor", "print the chain's head (sequence, hash, time) as an anchor line", cmd_anchor)
    c.add_argument("--write", action="store_true", help="also append it to the data folder's anchors file")
