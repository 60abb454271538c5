"""A third-party plugin that leaves a marker file when imported: never enable it."""

from pathlib import Path

Path(__file__).with_name("tp_lazy.imported").write_text("imported\n")


class Lazy:
    manifest = {"name": "tp_lazy", "version": "0.1.0", "description": "Test plugin, import marker"}

    def __init__(self, config, context) -> None:
        pass
