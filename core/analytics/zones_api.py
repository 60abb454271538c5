"""The zones HTTP API under ``/api/cameras/{id}/zones``.

==========================================  ===========================================================
``GET  .../zones``                          the camera's zones, revision, who saved them; its presets
``PUT  .../zones``                          replace all zones: the body is a zone file; ``If-Match``
``GET  .../zones/export``                   the zone file, as a download
``POST .../zones/import``                   the same as ``PUT``, for a file that was exported
==========================================  ===========================================================

Whoever may watch a camera reads its zones; an invisible camera answers 404
exactly like an unknown one. Saving needs the role operator (admins always)
in an agency that may see the camera, and is audited. A camera's zones are
saved as one set with a revision (``ETag: "3"``); a save sends the revision it
was based on in ``If-Match`` and is refused with ``409`` if someone saved in
between (without ``If-Match`` the save replaces whatever is there). A body
that is not JSON is ``400``; a zone file that does not validate is ``422``
with every problem, each with its line and key (``zones[1].points``), the
same as :func:`core.analytics.zone_file.import_zones` gives; a zone naming a
preset the camera does not have is one of those problems.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.analytics.zone_file import Problem, ZoneFileError, export_zones, import_zones, key_lines
from core.analytics.zone_store import StoredZones, ZoneConflict, ZoneStore
from core.analytics.zones import CameraZones
from core.auth import audit
from core.auth.access import camera_agencies, current_principal, require_role
from core.auth.principal import Principal
from core.errors import ApiError
from core.request_body import limited_body

BASE = "/api/cameras/{camera_id}/zones"
EDIT_ROLES = ("operator",)
MAX_ZONE_FILE = 512 * 1024  # 100 zones of 100 points is about 300 KB


def routes() -> list[Route]:
    return [
        Route(BASE, get_zones, methods=["GET"]),
        Route(BASE, put_zones, methods=["PUT"]),
        Route(BASE + "/export", export_file, methods=["GET"]),
        Route(BASE + "/import", import_file, methods=["POST"]),
    ]


# --- access ---------------------------------------------------------------------


def watched_camera(request: Request) -> tuple[str, str, Principal]:
    """The camera id, its agency and the caller, who may watch it (else 404)."""
    services = request.app.state.services
    camera_id = request.path_params["camera_id"]
    principal = current_principal(request)
    rt = services.cameras.get(camera_id) if services.cameras is not None else None
    if rt is None or rt.info.agency not in camera_agencies(principal, services.deployment):
        raise ApiError(404, f"unknown camera {camera_id[:64]!r}")
    return camera_id, rt.info.agency, principal


def _store(request: Request) -> ZoneStore:
    return request.app.state.services.zones


def _presets(request: Request, camera_id: str) -> tuple[bool, list[dict[str, str]]]:
    """Whether the camera is a PTZ camera, and its presets as the PTZ service knows them."""
    ptz = request.app.state.services.ptz
    if not ptz.has(camera_id):
        return False, []
    return True, [{"id": p.id, "name": p.name} for p in ptz.presets(camera_id)]


def _active_preset(request: Request, camera_id: str) -> str | None:
    ptz = request.app.state.services.ptz
    return ptz.preset_of(camera_id) if ptz.has(camera_id) else None


# --- answers -------------------------------------------------------------------------


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"', "Cache-Control": "private, no-store"}


def describe(
    stored: StoredZones, is_ptz: bool, presets: list[dict[str, str]], active_preset: str | None
) -> dict[str, Any]:
    """The camera's zones as the zone file has them, with the revision and the camera's presets."""
    return {
        "camera": stored.zones.camera,
        "revision": stored.version,
        "updated_by": stored.updated_by,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
        "ptz": is_ptz,
        "presets": presets,
        "active_preset": active_preset,  # the view the camera shows now (None: fixed, moving or unknown)
        "zones": [z.model_dump(mode="json", exclude_defaults=True) for z in stored.zones.zones],
    }


def _invalid(problems: list[Problem]) -> Response:
    first = problems[0]
    summary = f"{first.key}: {first.reason}" if first.key else first.reason
    if len(problems) > 1:
        summary += f" (and {len(problems) - 1} more)"
    body = {
        "error": summary,
        "status": 422,
        "problems": [{"line": p.line, "key": p.key, "reason": p.reason} for p in problems],
    }
    return JSONResponse(body, status_code=422)


def _base_version(request: Request, store: ZoneStore, camera_id: str) -> int:
    """The revision the edit was based on: ``If-Match``, or the current one when the client sent none."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return store.version(camera_id)
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ApiError(400, f"If-Match: expected the zones' revision as its ETag (e.g. \"3\"), not {raw[:30]!r}")
    return int(value)


def _preset_problems(zones: CameraZones, text: str, is_ptz: bool, presets: list[dict[str, str]]) -> list[Problem]:
    """Each zone whose preset the camera does not have (or that needs one and names none)."""
    lines = key_lines(text)
    known = [p["id"] for p in presets]
    out = []
    for i, zone in enumerate(zones.zones):
        line = lines.get(("zones", i, "preset")) or lines.get(("zones", i))
        if zone.preset is None and is_ptz:
            reason = f"camera {zones.camera} is a PTZ camera: name the preset the zone belongs to"
            reason += f" (presets: {', '.join(known)})" if known else " (it has no presets yet: refresh them)"
            out.append(Problem(line, f"zones[{i}].preset", reason))
        elif zone.preset is not None and not is_ptz:
            reason = f"camera {zones.camera} has no presets (not a PTZ camera): leave preset out"
            out.append(Problem(line, f"zones[{i}].preset", reason))
        elif zone.preset is not None and zone.preset not in known:
            listed = ", ".join(known) if known else "none known: refresh them"
            out.append(Problem(line, f"zones[{i}].preset", f"unknown preset {zone.preset!r} (presets: {listed})"))
    return out


# --- handlers ----------------------------------------------------------------------


async def get_zones(request: Request) -> Response:
    """The camera's zones, their revision and who saved them last, and the camera's presets.
    ---
    responses:
      200: {description: 'the zones', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    camera_id, _, _ = watched_camera(request)
    stored = _store(request).stored(camera_id)
    is_ptz, presets = _presets(request, camera_id)
    body = describe(stored, is_ptz, presets, _active_preset(request, camera_id))
    return JSONResponse(body, headers=_etag(stored.version))


async def export_file(request: Request) -> Response:
    """The camera's zones as a zone file, to download.
    ---
    responses:
      200: {description: 'the zone file', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    camera_id, _, _ = watched_camera(request)
    stored = _store(request).stored(camera_id)
    headers = _etag(stored.version) | {"Content-Disposition": f'attachment; filename="zones-{camera_id}.json"'}
    return Response(export_zones(stored.zones), media_type="application/json", headers=headers)


async def put_zones(request: Request) -> Response:
    """Replace all zones of the camera with those of the zone file in the body.
    ---
    requestBody: {required: true, content: {application/json: {schema: {type: object, description: 'a zone file (docs/analytics.md)'}}}}
    responses:
      200: {description: 'the zones as saved', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      409: {$ref: '#/components/responses/Error', description: 'someone saved in between'}
      413: {$ref: '#/components/responses/Error', description: 'the body is too large'}
      422: {$ref: '#/components/responses/Error', description: 'the zone file has problems, each with its line and key'}
    """
    return await _save(request, "zones.replace")


async def import_file(request: Request) -> Response:
    """Replace all zones of the camera with those of an exported zone file (the body).
    ---
    requestBody: {required: true, content: {application/json: {schema: {type: object, description: 'a zone file (docs/analytics.md)'}}}}
    responses:
      200: {description: 'the zones as saved', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      409: {$ref: '#/components/responses/Error', description: 'someone saved in between'}
      413: {$ref: '#/components/responses/Error', description: 'the body is too large'}
      422: {$ref: '#/components/responses/Error', description: 'the zone file has problems, each with its line and key'}
    """
    return await _save(request, "zones.import")


async def _save(request: Request, action: str) -> Response:
    camera_id, _, _ = watched_camera(request)
    who = require_role(request, *EDIT_ROLES)
    store = _store(request)
    base = _base_version(request, store, camera_id)
    raw = await limited_body(request, MAX_ZONE_FILE)
    if raw is None:
        raise ApiError(413, f"body: too large (a zone file of at most {MAX_ZONE_FILE // 1024} KiB)")
    if not raw.strip():
        raise ApiError(400, "body: empty; send a zone file (format bconnect.zones)")
    try:
        zones = import_zones(raw, source=f"zones of {camera_id}")
    except ZoneFileError as exc:
        if any(p.reason.startswith(("invalid JSON", "not UTF-8")) for p in exc.problems):
            raise ApiError(400, f"body: {exc.problems[0]}") from None
        return _invalid(exc.problems)
    text = raw.decode("utf-8")
    if zones.camera != camera_id:
        line = key_lines(text).get(("camera",))
        return _invalid([Problem(line, "camera", f"the file is for camera {zones.camera!r}, not {camera_id!r}")])
    is_ptz, presets = _presets(request, camera_id)
    problems = _preset_problems(zones, text, is_ptz, presets)
    if problems:
        return _invalid(problems)
    try:
        stored = await store.save(zones, base_version=base, by=who.username)
    except ZoneConflict as exc:
        raise ApiError(409, exc.reason, headers=_etag(exc.current)) from None
    ids = ", ".join(z.id for z in zones.zones) or "none"
    await audit.record(who.username, action, camera_id, f"revision {stored.version}: {len(zones.zones)} zones ({ids})")
    body = describe(stored, is_ptz, presets, _active_preset(request, camera_id))
    return JSONResponse(body, headers=_etag(stored.version))
