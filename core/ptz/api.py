"""The PTZ HTTP API under ``/api/cameras/{id}/ptz``.

Reading the state needs a user who may watch the camera. Steering it needs
the role operator or officer (admins always) and the camera's own agency
(admins: any). Every command takes or renews the caller's manual-control
lock; while another operator holds it the answer is ``409`` with who and for
how long. A command the camera refuses is ``502`` with the camera's reason.

=========================================  ======================================
``GET    .../ptz``                         state: presets, active preset, lock (+ plugins' fields)
``GET    .../ptz/presets``                 the presets the core knows (no camera call)
``POST   .../ptz/presets/refresh``         ask the camera for its presets (steering users)
``POST   .../ptz/preset``   ``{"preset"}``  go to a preset
``POST   .../ptz/move``     ``{"pan","tilt","zoom"}``  continuous move (speeds -1..1)
``POST   .../ptz/absolute`` ``{"pan","tilt","zoom"}``  absolute move (zoom 0..1)
``POST   .../ptz/zoom``     ``{"level"}``   zoom to 0..1
``POST   .../ptz/stop``                    stop moving
``POST   .../ptz/control``                 take (or renew) manual control
``DELETE .../ptz/control``                 give it back (admins: anyone's)
=========================================  ======================================

A read never reaches the camera: asking a camera for its presets replaces what
the core knows, so it is a steering user's explicit action, audited. Plugins
that add PTZ routes (the patrol tours' ``.../ptz/tour``) reuse :func:`visible`,
:func:`steerable`, :func:`answer`, :func:`json_object` and :func:`only` so that access and
answers stay the same.
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
from core.ptz.service import PtzError, PtzService
from core.request_body import read_object

BASE = "/api/cameras/{camera_id}/ptz"
CONTROL_ROLES = ("operator", "officer")


def routes() -> list[Route]:
    return [
        Route(BASE, get_state, methods=["GET"]),
        Route(BASE + "/presets", list_presets, methods=["GET"]),
        Route(BASE + "/presets/refresh", refresh_presets, methods=["POST"]),
        Route(BASE + "/preset", goto_preset, methods=["POST"]),
        Route(BASE + "/move", continuous_move, methods=["POST"]),
        Route(BASE + "/absolute", absolute_move, methods=["POST"]),
        Route(BASE + "/zoom", zoom, methods=["POST"]),
        Route(BASE + "/stop", stop, methods=["POST"]),
        Route(BASE + "/control", take_control, methods=["POST"]),
        Route(BASE + "/control", release_control, methods=["DELETE"]),
    ]


# --- access ---------------------------------------------------------------------


def _service(request: Request) -> PtzService:
    return request.app.state.services.ptz


def visible(request: Request) -> tuple[PtzService, str, Principal]:
    """The PTZ service, the camera id and the caller, who may watch the camera (else 404)."""
    principal = current_principal(request)
    ptz = _service(request)
    camera_id = request.path_params["camera_id"]
    services = request.app.state.services
    # an invisible camera answers like an unknown one
    if not ptz.has(camera_id) or not can_see_camera(principal, services.deployment, ptz.info(camera_id).agency):
        raise ApiError(404, f"no PTZ camera {camera_id!r}")
    return ptz, camera_id, principal


def steerable(request: Request) -> tuple[PtzService, str, Principal]:
    """Like :func:`visible`, and the caller may steer the camera (else 403)."""
    ptz, camera_id, principal = visible(request)
    require_role(request, *CONTROL_ROLES)
    agency = ptz.info(camera_id).agency
    if principal.role != "admin" and principal.agency != agency:
        raise ApiError(403, f"camera {camera_id} belongs to {agency}; only its own agency may steer it")
    return ptz, camera_id, principal


def answer(ptz: PtzService, camera_id: str) -> Response:
    """The camera's PTZ state, with the fields plugins add (:meth:`PtzService.add_state_field`)."""
    return JSONResponse(ptz.state(camera_id))


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
    return answer(ptz, camera_id)


# --- request bodies ---------------------------------------------------------------


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body (``{}`` when empty); 400 with the reason otherwise."""
    return await read_object(request)


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


def only(body: dict[str, Any], *keys: str) -> None:
    """400 naming the first key of ``body`` that is not one of ``keys``."""
    extra = sorted(set(body) - set(keys))
    if extra:
        raise ApiError(400, f"{extra[0][:40]}: unknown key (expected: {', '.join(keys) or 'none'})")


# --- handlers -----------------------------------------------------------------------


async def get_state(request: Request) -> Response:
    """PTZ state (presets, active preset, lock, tour).
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, _ = visible(request)
    return answer(ptz, camera_id)


def _presets(camera_id: str, presets) -> Response:
    return JSONResponse({"camera": camera_id, "presets": [{"id": p.id, "name": p.name} for p in presets]})


async def list_presets(request: Request) -> Response:
    """The camera's presets, as last read from it (a read never asks the camera).
    ---
    responses:
      200: {description: 'the presets', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, _ = visible(request)
    return _presets(camera_id, ptz.presets(camera_id))


async def refresh_presets(request: Request) -> Response:
    """Read the presets again from the camera (an operator who may steer it).
    ---
    requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false}}}}
    responses:
      200: {description: 'the presets', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera did not answer'}
    """
    ptz, camera_id, who = steerable(request)
    only(await json_object(request))
    with _refused():
        presets = await ptz.refresh_presets(camera_id)
    await audit.record(who.username, "ptz.presets_refresh", camera_id)
    return _presets(camera_id, presets)


async def goto_preset(request: Request) -> Response:
    """Go to a preset.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [preset], properties: {preset: {type: [string, integer]}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = steerable(request)
    body = await json_object(request)
    only(body, "preset")
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
    ptz, camera_id, who = steerable(request)
    body = await json_object(request)
    only(body, "pan", "tilt", "zoom")
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
    ptz, camera_id, who = steerable(request)
    body = await json_object(request)
    only(body, "pan", "tilt", "zoom")
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
    ptz, camera_id, who = steerable(request)
    body = await json_object(request)
    only(body, "level")
    level = _number(body, "level", 0, 1)
    return await _run(request, ptz, camera_id, ptz.zoom(camera_id, level, by=who.username))


async def stop(request: Request) -> Response:
    """Stop moving.
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      502: {$ref: '#/components/responses/Error', description: 'the camera refused or did not answer'}
    """
    ptz, camera_id, who = steerable(request)
    only(await json_object(request))
    return await _run(request, ptz, camera_id, ptz.stop(camera_id, by=who.username))


async def take_control(request: Request) -> Response:
    """Take (or renew) manual control.
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, who = steerable(request)
    only(await json_object(request))
    fresh = ptz.lock(camera_id) is None
    with _refused():
        ptz.take_control(camera_id, who.username)
    if fresh:
        await audit.record(who.username, "ptz.control", camera_id)
    return answer(ptz, camera_id)


async def release_control(request: Request) -> Response:
    """Give manual control back (admins, anyone's).
    ---
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    ptz, camera_id, who = steerable(request)
    with _refused():
        released = ptz.release(camera_id, who.username, force=who.role == "admin")
    if released:
        await audit.record(who.username, "ptz.release", camera_id)
    """Switch the patrol tour on or off.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [enabled], properties: {enabled: {type: boolean}}}}}}
    responses:
      200: {description: 'the state', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    return answer(ptz, camera_id)
