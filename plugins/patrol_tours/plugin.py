"""Patrol tours: the PTZ cameras cycle through the presets their drivers propose.

A policy, not a shared service, so a plugin: it uses only the core's public
PTZ arbiter (``services.ptz``). Drivers propose tours
(:class:`core.interfaces.TourDriver`, e.g. Dishub's ``tour_dwell_s``); the core
checks them against the cameras' presets; this plugin runs them, adds the
camera's ``tour`` to its PTZ state and serves ``POST .../ptz/tour``. Without
it, no camera patrols::

    [plugins.patrol_tours]
    tick_s = 1            # how often due tours move on
    max_backoff_s = 300   # the longest wait after failed moves in a row
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.auth import audit
from core.clock import Clock, SystemClock
from core.errors import ApiError
from core.hookspecs import hookimpl
from core.interfaces import Job
from core.ptz.api import BASE, answer, json_object, only, steerable
from plugins.patrol_tours.runner import MAX_BACKOFF_S, TourRunner


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tick_s: float = Field(default=1.0, gt=0, le=60)
    max_backoff_s: float = Field(default=MAX_BACKOFF_S, gt=0)


class PatrolTours:
    Config = Config

    def __init__(self, config: Config, context, clock: Clock | None = None) -> None:
        self.config = config
        self.context = context
        self.clock = clock or SystemClock()
        self.runner: TourRunner | None = None

    # --- hooks -----------------------------------------------------------------------

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="tick", func=self._tick, seconds=self.config.tick_s))

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route(BASE + "/tour", self.set_tour, methods=["POST"]))

    @hookimpl
    def bconnect_startup(self, services):
        runner = TourRunner(services.ptz, self.clock, self.config.max_backoff_s)
        for proposal in services.ptz.proposed_tours():
            runner.add(proposal.plugin, proposal.plan)
        services.ptz.add_state_field("tour", runner.status, plugin=self.context.name)
        self.runner = runner
        self.context.log.info("%d patrol tours", len(runner.camera_ids()))

    @hookimpl
    def bconnect_shutdown(self, services):
        self.runner = None

    @hookimpl
    def bconnect_health(self, services) -> dict[str, Any]:
        states = [self.runner.status(c) for c in self.runner.camera_ids()] if self.runner else []
        count = {s: sum(1 for t in states if t and t["state"] == s) for s in ("running", "paused", "off")}
        return {"status": "ok", "tours": len(states), **count}

    async def _tick(self) -> None:
        if self.runner is not None:
            await self.runner.tick()

    # --- POST /api/cameras/{camera_id}/ptz/tour {"enabled": bool} -------------------

    async def set_tour(self, request: Request) -> Response:
        """Switch the camera's patrol tour on or off.
        ---
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [enabled], properties: {enabled: {type: boolean}}}}}}
        responses:
          200: {description: 'the PTZ state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        ptz, camera_id, who = steerable(request)
        body = await json_object(request)
        only(body, "enabled")
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "enabled: expected true or false")
        if self.runner is None or not self.runner.has(camera_id):
            raise ApiError(409, f"camera {camera_id} has no patrol tour")
        self.runner.set_enabled(camera_id, enabled)
        await audit.record(who.username, "ptz.tour_on" if enabled else "ptz.tour_off", camera_id)
        return answer(ptz, camera_id)
