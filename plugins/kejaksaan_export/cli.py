"""``bconnect kejaksaan-export`` (export now, with a progress bar) and ``bconnect verify-export DIR``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from core.interfaces import Command


def _export(plugin: Any, args: argparse.Namespace, cfg: Any) -> int:
    from tqdm import tqdm

    from core.storage import CORE_MODELS, StorageError, close_database, open_database
    from plugins.kejaksaan_export.batch import ExportFailed
    from plugins.kejaksaan_export.models import MODELS, ExportBatch

    async def main() -> int:
        try:
            await open_database(cfg.deployment.database_url(), [CORE_MODELS, MODELS])
            if args.list:
                for b in await ExportBatch.all().order_by("id"):
                    print(f"{b.name}  {b.state:9} {b.cases:5} case(s)  {b.created_at:%Y-%m-%d %H:%M}Z  "
                          f"{b.error or ''}".rstrip())
                return 0
            bars: list[tqdm] = []  # made with the first case: no bar when nothing waits

            def progress(done: int, total: int) -> None:
                if not bars:
                    bars.append(tqdm(total=total, unit="case", desc="export", disable=args.quiet, file=sys.stderr))
                bars[0].n = done
                bars[0].refresh()

            try:
                batch = await plugin.exporter.export("cli", f"cli:{getpass.getuser()}", progress)
            finally:
                for bar in bars:
                    bar.close()
        finally:
            await close_database()
        if batch is None:
            print("no case waits for a batch")
        else:
            print(f"batch {batch.name} complete: {batch.cases} case(s) in {plugin.exporter.target / batch.name}")
        return 0

    try:
        return asyncio.run(main())
    except (ExportFailed, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _verify(plugin: Any, args: argparse.Namespace, cfg: Any) -> int:
    from plugins.kejaksaan_export import signing
    from plugins.kejaksaan_export.verify import report

    key = args.public_key or signing.key_paths(plugin.data_dir)[1]
    if not key.exists():
        print(f"error: no public key at {key}: pass --public-key FILE (the deployment publishes it)", file=sys.stderr)
        return 1
    return report(args.folder, key)


def commands(plugin: Any) -> list[Command]:
    def export_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--list", action="store_true", help="list the batches instead")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    def verify_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("folder", type=Path, help="the batch's folder")
        p.add_argument("--public-key", type=Path, help="the published public key (default: this deployment's)")

    return [
        Command("kejaksaan-export", "write the waiting tilang cases as a signed batch now",
                export_args, lambda args, cfg: _export(plugin, args, cfg)),
        Command("verify-export", "check a Kejaksaan export batch offline (signature and every file)",
                verify_args, lambda args, cfg: _verify(plugin, args, cfg)),
    ]
