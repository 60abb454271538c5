"""``PUT /api/evidence/hold``: keep a clip or snapshot out of the retention purge, or release it.

Body ``{"kind": "clip"|"snapshot", "id": "...", "held": true|false, "reason": "..."}``.
Officers (and admins) of an agency whose ``[access] data`` covers the
evidence may set it; anyone else's evidence answers 404 like unknown evidence.
Each change is audited (``evidence.hold`` / ``evidence.release``, the reason
as detail). The violation workflow calls
:func:`core.evidence.retention.set_hold` directly.
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
KEYS = ("kind", "id", "held", "reason")


async def hold(request: Request) -> Response:
    """Hold evidence for an open case (retention never purges it), or release it; audited.
    ---
    requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, properties: {kind: {type: string, enum: [clip, snapshot]}, id: {type: string}, held: {type: boolean}, reason: {type: string}}}}}}
    responses:
      200: {description: 'the evidence and whether it is held', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
    """
    who = require_role(request, *HOLD_ROLES)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, f"body: expected a JSON object with {', '.join(KEYS)}")
    extra = sorted(set(body) - set(KEYS))
    if extra:
        raise ApiError(400, f"{extra[0]}: unknown key (expected: {', '.join(KEYS)})")
    kind_name, evidence_id, held, reason = (body.get(key) for key in KEYS)
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise ApiError(400, f"kind: expected one of: {', '.join(KINDS)}")
    if not isinstance(evidence_id, str):
        raise ApiError(400, f"id: expected the {kind.name}'s id")
    if not isinstance(held, bool):
        raise ApiError(400, "held: expected true or false")
    if not isinstance(reason, str):
        raise ApiError(400, "reason: expected a string: why the evidence is held or released")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise ApiError(422, f"reason: 1 to {MAX_REASON} characters")
    agencies = data_agencies(current_principal(request), request.app.state.services.deployment)
    row = await kind.model.get_or_none(id=evidence_id) if len(evidence_id) <= 16 else None
    if row is None or row.agency not in agencies:
        raise ApiError(404, f"unknown {kind.name} {evidence_id[:40]!r}")
    try:
        row = await set_hold(kind.name, evidence_id, held, actor=who.username, reason=reason.strip())
    except HoldError as exc:  # removed meanwhile
        raise ApiError(404, str(exc)) from None
    return JSONResponse({"kind": kind.name, "id": row.id, "held": row.held})


def routes() -> list[Route]:
    return [Route("/api/evidence/hold", hold, methods=["PUT"])]
