"""Polri's HTTP API: GPS fixes of mobile units.

=============================================================  ==================================
``POST /api/plugins/polri_etle/units/{unit}/fix``  ``{"lat","lon","time"}``  a unit reports where it is
``GET  /api/plugins/polri_etle/units``                          every mobile unit and its latest fix
``GET  /api/plugins/polri_etle/units/{unit}``                   one unit
=============================================================  ==================================

Reporting needs the role officer or operator of Polri (admins too): the
device in a patrol car uses an API token of such a user. Reading needs a
user who may watch Polri's cameras. A malformed fix is ``400`` with the
reason, an unknown unit ``404``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth.access import can_see_camera, current_principal, require_role
from core.errors import ApiError
from core.request_body import read_json
from plugins.polri_etle.fixes import BadFix, parse_fix

if TYPE_CHECKING:
    from plugins.polri_etle.plugin import PolriEtle

BASE = "/api/plugins/polri_etle/units"


class PolriApi:
    def __init__(self, plugin: PolriEtle) -> None:
        self.plugin = plugin

    def routes(self) -> list[Route]:
        return [
            Route(BASE, self.list_units, methods=["GET"]),
            Route(BASE + "/{unit}", self.get_unit, methods=["GET"]),
            Route(BASE + "/{unit}/fix", self.post_fix, methods=["POST"]),
        ]

    def _unit(self, request: Request) -> str:
        unit = request.path_params["unit"]
        if unit not in self.plugin.units:
            raise ApiError(404, f"no mobile unit {unit[:64]!r}")
        return unit

    def _reader(self, request: Request) -> None:
        principal = current_principal(request)
        if not can_see_camera(principal, request.app.state.services.deployment, "polri"):
            raise ApiError(403, "your agency does not see Polri's cameras")

    def _describe(self, unit: str) -> dict:
        fix = self.plugin.store.latest(unit) if self.plugin.store else None
        return {
            "unit": unit,
            "camera": self.plugin.units[unit],
            "fix": fix.public(self.plugin.now(), self.plugin.config.gps_stale_after_s) if fix else None,
        }

    async def list_units(self, request: Request) -> Response:
        """Every Polri mobile unit and its latest GPS fix.
        ---
        responses:
          200: {description: 'the units', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._reader(request)
        return JSONResponse({"units": [self._describe(u) for u in sorted(self.plugin.units)]})

    async def get_unit(self, request: Request) -> Response:
        """One mobile unit.
        ---
        responses:
          200: {description: 'the unit', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._reader(request)
        return JSONResponse(self._describe(self._unit(request)))

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
            fix = parse_fix(unit, body, self.plugin.now())
        except BadFix as exc:
            raise ApiError(400, str(exc)) from None
        if self.plugin.store is None:
            raise ApiError(503, "Polri plugin is starting")
        kept = await self.plugin.store.report(fix, principal.username)
        answer = self._describe(unit)
        answer["kept"] = kept  # False: an older fix than the one held
        return JSONResponse(answer)
