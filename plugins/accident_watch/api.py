"""HTTP routes: accept an alert's PTZ offer, and the response-time figures.

``POST /api/accident_watch/alerts/{event_id}/ptz``  turn one offered PTZ camera to its preset (operator, officer)
``GET  /api/accident_watch/response``        alert to acknowledgement: count, median, 90th percentile, max
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth import audit
from core.auth.access import can_see_camera, can_see_data, current_principal, require_role
from core.errors import ApiError
from core.events.types import EVENT_ID
from core.ptz.service import PtzError
from core.request_body import read_object
from plugins.accident_watch.response import ResponseTimes
from plugins.accident_watch.rule import EVENT_KIND

CONTROL_ROLES = ("operator", "officer")  # who may steer a camera, as for the PTZ API


class AccidentApi:
    def __init__(self, times: ResponseTimes) -> None:
        self.times = times
        self.services: Any = None  # the plugin's services, from bconnect_startup

    def routes(self) -> list[Route]:
        return [
            Route("/api/accident_watch/alerts/{event_id}/ptz", self.accept_offer, methods=["POST"]),
            Route("/api/accident_watch/response", self.response, methods=["GET"]),
        ]

    def _services(self) -> Any:
        if self.services is None:
            raise ApiError(503, "the accident watch has not started")
        return self.services

    async def accept_offer(self, request: Request) -> Response:
        """Turn one PTZ camera the alert offers to the preset that covers the spot; refused while another operator holds it.
        ---
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [camera], properties: {camera: {type: string, maxLength: 64}}}}}}
        responses:
          200: {description: 'the camera moved: the offer taken, and its PTZ state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'no such accident alert, or the camera is not in its offer'}
          409: {$ref: '#/components/responses/Error', description: 'another operator holds the camera (the reason names who)'}
          502: {$ref: '#/components/responses/Error', description: 'the camera did not accept the command'}
        """
        services = self._services()
        who = current_principal(request)
        event_id = request.path_params["event_id"]
        if not EVENT_ID.match(event_id):
            raise ApiError(404, f"no accident alert {event_id[:40]!r}")
        body = await read_object(request, ("camera",))
        camera = body.get("camera")
        if not isinstance(camera, str) or not camera:
            raise ApiError(400, "camera: expected the id of a camera the alert offers")
        stored = await services.events.get(event_id)
        deployment = services.deployment
        if stored is None or stored.event.kind != EVENT_KIND or not can_see_data(who, deployment, stored.event.agency):
            raise ApiError(404, f"no accident alert {event_id}")
        offered = [o for o in stored.event.detail.get("ptz_offer", []) if o.get("camera") == camera]
        info = services.cameras.info(camera)
        if not offered or info is None or not can_see_camera(who, deployment, info.agency):
            raise ApiError(404, f"camera {camera[:64]!r} is not in the offer of alert {event_id}")
        require_role(request, *CONTROL_ROLES)
        if who.role != "admin" and who.agency != info.agency:
            raise ApiError(403, f"camera {camera} belongs to {info.agency}; only its own agency may steer it")
        preset = offered[0]["preset"]
        try:
            await services.ptz.goto_preset(camera, preset, who.username)
        except PtzError as exc:
            raise ApiError(exc.status, exc.reason) from None
        await audit.record(who.username, "accident.ptz", event_id, f"{camera} to preset {preset}")
        lock = services.ptz.lock(camera)
        return JSONResponse({
            "event": event_id, "camera": camera, "preset": preset,
            "active_preset": services.ptz.preset_of(camera),
            "held_by": lock.owner if lock is not None else None,
        })

    async def response(self, request: Request) -> Response:
        """Alert to acknowledgement for the accident alerts acknowledged since start (the last ``response_window``).
        ---
        responses:
          200: {description: 'acknowledged, median_s, p90_s, max_s', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        current_principal(request)
        return JSONResponse(self.times.figures())
