"""``PUT /api/evidence/{kind}/{id}/hold``: keep a clip or snapshot out of the retention purge.

Body ``{"held": true|false, "reason": "..."}``. Officers (and admins) of an
agency whose ``[access] data`` covers the evidence may set it; anyone else's
evidence answers 404 like unknown evidence. Each change is audited
(``evidence.hold`` / ``evidence.release``, the reason as detail). The
violation workflow calls :func:`core.evidence.retention.set_hold` directly.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth.access import current_principal, data_agencies, require_role
from core.errors import ApiError
from core.evidence.retention import KINDS, HoldError, set_hold
from core.request_body import read_json

HOLD_ROLES = ("officer",)
MAX_REASON = 500


async def hold(request: Request) -> Response:
    """Hold evidence for an open case (retention never purges it), or release it; audited.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [held, reason], properties: {held: {type: boolean}, reason: {type: string, minLength: 1, maxLength: 500}}}}}}
    responses:
      200: {description: 'the evidence and whether it is held', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    kind_name, evidence_id = request.path_params["kind"], request.path_params["evidence_id"]
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ApiError(404, f"unknown evidence kind {kind_name[:20]!r} (one of: {', '.join(KINDS)})")
    who = require_role(request, *HOLD_ROLES)
    agencies = data_agencies(current_principal(request), request.app.state.services.deployment)
    row = await kind.model.get_or_none(id=evidence_id) if len(evidence_id) <= 16 else None
    if row is None or row.agency not in agencies:
        raise ApiError(404, f"unknown {kind.name} {evidence_id[:40]!r}")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "body: expected a JSON object with held and reason")
    extra = sorted(set(body) - {"held", "reason"})
    if extra:
        raise ApiError(400, f"{extra[0]}: unknown key (expected: held, reason)")
    held, reason = body.get("held"), body.get("reason")
    if not isinstance(held, bool):
        raise ApiError(400, "held: expected true or false")
    if not isinstance(reason, str):
        raise ApiError(400, "reason: expected a string: why the evidence is held or released")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise ApiError(422, f"reason: 1 to {MAX_REASON} characters")
    try:
        row = await set_hold(kind.name, evidence_id, held, actor=who.username, reason=reason.strip())
    except HoldError as exc:  # removed meanwhile
        raise ApiError(404, str(exc)) from None
    return JSONResponse({"kind": kind.name, "id": row.id, "held": row.held})


def routes() -> list[Route]:
    return [Route("/api/evidence/{kind}/{evidence_id}/hold", hold, methods=["PUT"])]
