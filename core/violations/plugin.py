"""The violation workflow as a default plugin: a sink that turns violation events into violations, the routes.

Registered after the events core. Its sink (``violations``) takes every
stored event through the outbox like any sink, so a violation event is never
lost to a crash: the outbox offers it again and the violation is made once per
event id. At start-up it finishes what a crash interrupted
(:meth:`ViolationService.resume`).
"""

from __future__ import annotations

import logging

from core.events.types import Event
from core.hookspecs import hookimpl
from core.violations import pages
from core.violations.api import ViolationsApi
from core.violations.plates import PlateValidator
from core.violations.service import ViolationService

log = logging.getLogger("bconnect.violations")
VALIDATOR_HOOK = "bconnect_register_plate_validators"


class ViolationSink:
    """Events of a violation kind become violations awaiting review."""

    name = "violations"

    def __init__(self, plugin: ViolationsPlugin) -> None:
        self.plugin = plugin

    async def deliver(self, event: Event) -> None:
        service = self.plugin.api.service
        if service is None:
            raise RuntimeError("the violation service has not started")
        await service.from_event(event)


class ViolationsPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        self.api = ViolationsApi()

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in [*self.api.routes(), *pages.routes()]:
            register(route)

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(ViolationSink(self))

    @hookimpl
    async def bconnect_startup(self, services):
        validator, owner = None, "core"
        for plugin, obj in services.plugins.registered.get(VALIDATOR_HOOK, []):
            if not isinstance(obj, PlateValidator):
                problem = TypeError(f"not a PlateValidator: {obj!r}"[:200])
                services.plugins.report_failure(plugin, VALIDATOR_HOOK, problem)
            elif validator is not None:
                services.plugins.report_failure(plugin, VALIDATOR_HOOK, ValueError(
                    f"plate validator {obj.name!r} ignored: {validator.name!r} was registered first"))
            else:
                validator, owner = obj, plugin
        bus = services.events
        service = ViolationService(
            services.deployment.enforcement, bus.publish if bus is not None else None, validator,
            on_validator_error=lambda exc: services.plugins.report_failure(owner, VALIDATOR_HOOK, exc),
            data_dir=services.data_dir,
        )
        resumed = await service.resume()
        if resumed:
            log.info("violations: finished %d interrupted hand-overs", resumed)
        self.api.service = service
        services.violations = service  # sinks reach it through PluginServices.violations (ViolationDesk)

    @hookimpl
    async def bconnect_shutdown(self, services):
        self.api.service = None
        services.violations = None
