"""The PTZ HTTP API under ``/api/cameras/{id}/ptz``.

Reading the state needs a user who may watch the camera. Steering it needs
the role operator or officer (admins always) and the camera's own agency
(admins: any). Every command takes or renews the caller's manual-control
lock; while another operator holds it the answer is ``409`` with who and for
how long. A command the camera refuses is ``502`` with the camera's reason.

=========================================  ======================================
``GET    .../ptz``                         state: presets, active preset, lock, tour
``GET    .../ptz/presets``                 ask the camera for its presets
``POST   .../ptz/preset``   ``{"preset"}``  go to a preset
``POST   .../ptz/move``     ``{"pan","tilt","zoom"}``  continuous move (speeds -1..1)
``POST   .../ptz/absolute`` ``{"pan","tilt","zoom"}``  absolute move (zoom 0..1)
``POST   .../ptz/zoom``     ``{"level"}``   zoom to 0..1
``POST   .../ptz/stop``                    stop moving
``POST   .../ptz/control``                 take (or renew) manual control
``DELETE .../ptz/control``                 give it back (admins: anyone's)
``POST   .../ptz/tour``     ``{"enabled"}`` switch the patrol tour on or off
=========================================  ======================================
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth import audit
from core.auth.access import can_see_camera, current_principal, require_role
from core.auth.principal import Principal
from core.errors import ApiError
from core.ptz import PtzError, PtzService
from core.request_body import read_json

BASE = "/api/cameras/{camera_id}/ptz"
CONTROL_ROLES = ("operator", "officer")


def routes() -> list[Route]:
    return [
        Route(BASE, get_state, methods=["GET"]),
        Route(BASE + "/presets", list_presets, methods=["GET"]),
        Route(BASE + "/preset", goto_preset, methods=["POST"]),
        Route(BASE + "/move", continuous_move, methods=["POST"]),
        Route(BASE + "/absolute", absolute_move, methods=["POST"]),
        Route(BASE + "/zoom", zoom, methods=["POST"]),
        Route(BASE + "/stop", stop, methods=["POST"]),
        Route(BASE + "/control", take_control, methods=["POST"]),
        Route(BASE + "/control", release_control, methods=["DELETE"]),
        Route(BASE + "/tour", set_tour, methods=["POST"]),
    ]


# --- access ---------------------------------------------------------------------


def _service(request: Request) -> PtzService:
    ptz = request.app.state.services.ptz
    if ptz is None:
        raise ApiError(503, "PTZ control is starting")
    return ptz


def _visible(request: Request) -> tuple[PtzService, str, Principal]:
    principal = current_principal(request)
    ptz = _service(request)
    camera_id = request.path_params["camera_id"]
    services = request.app.state.services
    # an invisible camera answers like an unknown one
    if not ptz.has(camera_id) or not can_see_camera(principal, services.deployment, ptz.info(camera_id).agency):
        raise ApiError(404, f"no PTZ camera {camera_id!r}")
    return ptz, camera_id, principal


def _steerable(request: Request) -> tuple[PtzService, str, Principal]:
    ptz, camera_id, principal = _visible(request)
    require_role(request, *CONTROL_ROLES)
    agency = ptz.info(camera_id).agency
    if principal.role != "admin" and principal.agency != agency:
        raise ApiError(403, f"camera {camera_id} belongs to {agency}; only its own agency may steer it")
    return ptz, camera_id, principal


def _answer(request: Request, ptz: PtzService, camera_id: str) -> Response:
    body = ptz.state(camera_id)
    tours = request.app.state.services.tours
    body["tour"] = tours.status(camera_id) if tours is not None else None
    return JSONResponse(body)


@contextlib.contextmanager
def _refused() -> Iterator[None]:
    """A refused or failed PTZ request becomes the HTTP answer it names."""
    try:
        yield
    except PtzError as exc:
        raise ApiError(exc.status, exc.reason) from None


async def _run(request: Request, ptz: PtzService, camera_id: str, command) -> Response:
    with _refused():
        await command
    return _answer(request, ptz, camera_id)


# --- request bodies ---------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "body: expected a JSON object")
    return body


def _number(body: dict[str, Any], key: str, low: float, high: float, default: float | None = None) -> float:
    if key not in body:
        if default is None:
            raise ApiError(400, f"{key}: missing value")
        return default
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"{key}: expected a number")
    if not low <= value <= high:
        raise ApiError(400, f"{key}: {value} is outside {low:g}..{high:g}")
    return float(value)


def _only(body: dict[str, Any], *keys: str) -> None:
    extra = sorted(set(body) - set(keys))
    if extra:
        raise ApiError(400, f"{extra[0]}: unknown key (expected: {', '.join(keys) or 'none'})")


# --- handlers -----------------------------------------------------------------------


async def get_state(request: Request) -> Response:
    """PTZ state (presets, active preset, lock, tour).
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, _ = _visible(request)
    return _answer(request, ptz, camera_id)


async def list_presets(request: Request) -> Response:
    """The camera's presets.
    ---
    responses:
      200: {description: 'the presets', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera did not answer'}
    """
    ptz, camera_id, _ = _visible(request)
    with _refused():
        presets = await ptz.refresh_presets(camera_id)
    return JSONResponse({"camera": camera_id, "presets": [{"id": p.id, "name": p.name} for p in presets]})


async def goto_preset(request: Request) -> Response:
    """Go to a preset.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [preset], properties: {preset: {type: [string, integer]}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = _steerable(request)
    body = await _body(request)
    _only(body, "preset")
    preset = body.get("preset")
    if isinstance(preset, int) and not isinstance(preset, bool):
        preset = str(preset)
    if not isinstance(preset, str) or not preset:
        raise ApiError(400, "preset: expected a preset id")
    return await _run(request, ptz, camera_id, ptz.goto_preset(camera_id, preset, by=who.username))


async def continuous_move(request: Request) -> Response:
    """Move at a speed (each -1..1).
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, properties: {pan: {type: number, minimum: -1, maximum: 1}, tilt: {type: number, minimum: -1, maximum: 1}, zoom: {type: number, minimum: -1, maximum: 1}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = _steerable(request)
    body = await _body(request)
    _only(body, "pan", "tilt", "zoom")
    pan = _number(body, "pan", -1, 1, 0.0)
    tilt = _number(body, "tilt", -1, 1, 0.0)
    z = _number(body, "zoom", -1, 1, 0.0)
    return await _run(request, ptz, camera_id, ptz.continuous_move(camera_id, pan, tilt, z, by=who.username))


async def absolute_move(request: Request) -> Response:
    """Move to a position.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [pan, tilt, zoom], properties: {pan: {type: number, minimum: -1, maximum: 1}, tilt: {type: number, minimum: -1, maximum: 1}, zoom: {type: number, minimum: 0, maximum: 1}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = _steerable(request)
    body = await _body(request)
    _only(body, "pan", "tilt", "zoom")
    pan = _number(body, "pan", -1, 1)
    tilt = _number(body, "tilt", -1, 1)
    z = _number(body, "zoom", 0, 1)
    return await _run(request, ptz, camera_id, ptz.absolute_move(camera_id, pan, tilt, z, by=who.username))


async def zoom(request: Request) -> Response:
    """Zoom to a level (0 wide .. 1 tele).
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [level], properties: {level: {type: number, minimum: 0, maximum: 1}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = _steerable(request)
    body = await _body(request)
    _only(body, "level")
    level = _number(body, "level", 0, 1)
    return await _run(request, ptz, camera_id, ptz.zoom(camera_id, level, by=who.username))


async def stop(request: Request) -> Response:
    """Stop moving.
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = _steerable(request)
    _only(await _body(request))
    return await _run(request, ptz, camera_id, ptz.stop(camera_id, by=who.username))


async def take_control(request: Request) -> Response:
    """Take (or renew) manual control.
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, who = _steerable(request)
    _only(await _body(request))
    fresh = ptz.lock(camera_id) is None
    with _refused():
        ptz.take_control(camera_id, who.username)
    if fresh:
        await audit.record(who.username, "ptz.control", camera_id)
    return _answer(request, ptz, camera_id)


async def release_control(request: Request) -> Response:
    """Give manual control back (admins, anyone's).
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, who = _steerable(request)
    with _refused():
        released = ptz.release(camera_id, who.username, force=who.role == "admin")
    if released:
        await audit.record(who.username, "ptz.release", camera_id)
    return _answer(request, ptz, camera_id)


async def set_tour(request: Request) -> Response:
    """Switch the patrol tour on or off.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [enabled], properties: {enabled: {type: boolean}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, who = _steerable(request)
    body = await _body(request)
    _only(body, "enabled")
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(400, "enabled: expected true or false")
    tours = request.app.state.services.tours
    if tours is None or not tours.has(camera_id):
        raise ApiError(409, f"camera {camera_id} has no patrol tour")
    tours.set_enabled(camera_id, enabled)
    await audit.record(who.username, "ptz.tour_on" if enabled else "ptz.tour_off", camera_id)
    return _answer(request, ptz, camera_id)
