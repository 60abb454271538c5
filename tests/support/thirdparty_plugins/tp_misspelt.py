"""A third-party plugin with a misspelt hook implementation (route, not routes)."""

from core.hookspecs import hookimpl


class Misspelt:
    manifest = {"name": "tp_misspelt", "version": "0.1.0", "description": "Test plugin with a typo"}

    def __init__(self, config, context) -> None:
        pass

    @hookimpl
    def bconnect_register_route(self, register):
        raise AssertionError("never called: the hook does not exist")


class WrongArgs:
    """A known hook, with an argument name the hook does not have."""

    manifest = {"name": "tp_wrongargs", "version": "0.1.0", "description": "Test plugin with a bad argument"}

    def __init__(self, config, context) -> None:
        pass

    @hookimpl
    def bconnect_register_routes(self, regster):
        raise AssertionError("never called")


class Wrapper:
    """A hook wrapper: the host calls implementations one by one, so it refuses wrappers."""

    manifest = {"name": "tp_wrapper", "version": "0.1.0", "description": "Test plugin with a wrapper"}

    def __init__(self, config, context) -> None:
        pass

    @hookimpl(wrapper=True)
    def bconnect_health(self, services):
        return (yield)
