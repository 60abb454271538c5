"""A process that only drains an MQTT outbox, for the crash test: ``python mqtt_drain.py OUTBOX PORT``.

The same publisher the plugin runs, without the app around it, so that the
test can SIGKILL the process that is draining. It exits 0 once the outbox is
empty.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from plugins.mqtt_events.config import Config
from plugins.mqtt_events.outbox import DiskOutbox
from plugins.mqtt_events.publisher import Publisher


async def main(path: str, port: int) -> None:
    config = Config(port=port, reconnect_max_s=0.3, topic_prefix="crash")
    outbox = DiskOutbox(Path(path), config.outbox_max_messages, config.outbox_max_bytes)
    await asyncio.to_thread(outbox.open)
    publisher = Publisher(config, outbox, dict, logging.getLogger("mqtt_drain"))
    publisher.start()
    while outbox.depth:
        await asyncio.sleep(0.02)
    await publisher.stop()
    await asyncio.to_thread(outbox.close)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
