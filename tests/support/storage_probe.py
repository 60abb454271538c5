"""Write or read the test plugin ``tp_notes``'s table through the real storage code.

Run as a script in its own process (so that each model version is imported
fresh): ``python storage_probe.py CONFIG write TEXT`` or ``... read``; ``read``
prints the notes as JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import sys


async def main(config: str, mode: str, text: str | None) -> None:
    from core.config import load_file
    from core.plugin_host import load_plugins
    from core.storage import close_database, model_sets, open_database

    cfg = load_file(config)
    await open_database(cfg.deployment.database_url(), model_sets(load_plugins(cfg)))
    try:
        from tp_notes.models import Note

        if mode == "write":
            await Note.create(text=text)
        else:
            for note in await Note.all().order_by("id"):
                fields = {name: getattr(note, name) for name in Note._meta.fields_map}
                print(json.dumps(fields, default=str))
    finally:
        await close_database()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
