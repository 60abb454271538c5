"""A third-party plugin that keeps data: its own models and migrations."""

from core.hookspecs import hookimpl
from core.interfaces import ModelSet


class Notes:
    manifest = {
        "name": "tp_notes",
        "version": "0.1.0",
        "description": "Test plugin with a table",
        "provides": ["models"],
    }

    def __init__(self, config, context) -> None:
        pass

    @hookimpl
    def bconnect_register_models(self, register):
        register(ModelSet(app="tp_notes", models="tp_notes.models", migrations="tp_notes.migrations"))
