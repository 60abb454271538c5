"""Polri's HTTP API: GPS fixes of mobile units.

=====================================================  ==================================
``POST /api/polri_etle/units/{unit}/fix``  ``{"lat","lon","time"}``  a unit reports where it is
``GET  /api/polri_etle/units``                          every mobile unit and its latest fix
``GET  /api/polri_etle/units/{unit}``                   one unit
=====================================================  ==================================

Reporting needs the role officer or operator of Polri (admins too): the
device in a patrol car uses an API token of such a user. Reading needs a
user who may watch Polri's cameras. A malformed fix is ``400`` with the
reason, an unknown unit ``404``. The routes see the plugin only through
:class:`plugins.polri_etle.units.MobileUnits`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth.access import can_see_camera, current_principal, require_role
from core.errors import ApiError
from core.request_body import read_json
from plugins.polri_etle.fixes import BadFix, parse_fix
from plugins.polri_etle.units import MobileUnits, NotStarted

BASE = "/api/polri_etle/units"


class PolriApi:
    def __init__(self, units: MobileUnits) -> None:
        self.units = units

    def routes(self) -> list[Route]:
        return [
            Route(BASE, self.list_units, methods=["GET"]),
            Route(BASE + "/{unit}", self.get_unit, methods=["GET"]),
            Route(BASE + "/{unit}/fix", self.post_fix, methods=["POST"]),
        ]

    def _unit(self, request: Request) -> str:
        unit = request.path_params["unit"]
        if unit not in self.units.cameras:
            raise ApiError(404, f"no mobile unit {unit[:64]!r}")
        return unit

    def _reader(self, request: Request) -> None:
        principal = current_principal(request)
        if not can_see_camera(principal, request.app.state.services.deployment, "polri"):
            raise ApiError(403, "your agency does not see Polri's cameras")

    async def list_units(self, request: Request) -> Response:
        """Every Polri mobile unit and its latest GPS fix.
        ---
        responses:
          200: {description: 'the units', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._reader(request)
        return JSONResponse({"units": [self.units.describe(u) for u in sorted(self.units.cameras)]})

    async def get_unit(self, request: Request) -> Response:
        """One mobile unit.
        ---
        responses:
          200: {description: 'the unit', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._reader(request)
        return JSONResponse(self.units.describe(self._unit(request)))

    async def post_fix(self, request: Request) -> Response:
        """A unit reports where it is.
        ---
        requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [lat, lon, time], properties: {lat: {type: number, minimum: -90, maximum: 90}, lon: {type: number, minimum: -180, maximum: 180}, time: {type: string, format: date-time}}}}}}
        responses:
          200: {description: 'the unit; kept is false for an older fix than the one held', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = require_role(request, "officer", "operator")
        if principal.role != "admin" and principal.agency != "polri":
            raise ApiError(403, "only Polri's units report positions")
        unit = self._unit(request)
        body = await read_json(request)
        try:
            fix = parse_fix(unit, body, self.units.now())
        except BadFix as exc:
            raise ApiError(400, str(exc)) from None
        try:
            kept = await self.units.report(fix, principal.username)
        except NotStarted as exc:
            raise ApiError(503, str(exc)) from None
        answer = self.units.describe(unit)
        answer["kept"] = kept  # False: an older fix than the one held
        return JSONResponse(answer)
