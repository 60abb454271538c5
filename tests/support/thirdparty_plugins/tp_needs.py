"""A third-party plugin that needs tp_hello."""


class Needs:
    manifest = {
        "name": "tp_needs",
        "version": "0.1.0",
        "description": "Test plugin that needs another",
        "requires": ["tp_hello"],
    }

    def __init__(self, config, context) -> None:
        pass
