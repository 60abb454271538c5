"""How fast the audit chain appends and verifies, on SQLite (or a database URL given).

    python bench/audit_chain.py --entries 20000 [--url sqlite:///tmp/x.db] [--parallel 8]

Appends ``--entries`` entries (``--parallel`` at once), then runs the verifier
over the whole chain; prints entries per second for each.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from core.audit.verify import verify_chain
from core.auth import audit
from core.storage import CORE_MODELS, close_database, open_database


async def main(url: str, entries: int, parallel: int) -> None:
    await open_database(url, [CORE_MODELS])
    try:
        started = time.perf_counter()
        for start in range(0, entries, parallel):
            batch = range(start, min(start + parallel, entries))
            await asyncio.gather(*(audit.record("bench", "bench.append", str(i), "d" * 120, address="10.0.0.1")
                                   for i in batch))
        appended = time.perf_counter() - started
        started = time.perf_counter()
        report = await verify_chain()
        verified = time.perf_counter() - started
        assert report.ok, report.problems
        print(f"append: {entries / appended:.0f} entries/s ({parallel} at once); "
              f"verify: {report.entries / verified:.0f} entries/s over {report.entries} entries")
    finally:
        await close_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--url")
    args = parser.parse_args()
    url = args.url or f"sqlite://{Path(tempfile.mkdtemp(prefix='bconnect-bench-')) / 'bconnect.db'}"
    asyncio.run(main(url, args.entries, args.parallel))
