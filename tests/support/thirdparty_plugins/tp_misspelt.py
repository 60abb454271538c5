"""A third-party plugin with a misspelt hook implementation (route, not routes)."""

from core.hookspecs import hookimpl


class Misspelt:
    manifest = {"name": "tp_misspelt", "version": "0.1.0", "description": "Test plugin with a typo"}

    def __init__(self, config, context) -> None:
        pass

    @hookimpl
    def bconnect_register_route(self, register):
        raise AssertionError("never called: the hook does not exist")
