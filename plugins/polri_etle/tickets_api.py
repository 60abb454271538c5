"""ETLE tickets over HTTP: the Polri back office's list, one case, its letter, and every move.

====================================================  =====================================================
``GET  /api/polri_etle/tickets``                      newest first; ``state``, ``plate``, ``limit``
``GET  /api/polri_etle/tickets/{id}``                 one ticket with its history (audited: owner data)
``GET  /api/polri_etle/tickets/{id}/letter``          the confirmation letter, PDF (audited)
``POST /api/polri_etle/tickets/{id}/delivery``        ``{"status": printed|sent|failed|returned, "note"}``
``POST /api/polri_etle/tickets/{id}/confirm``         ``{"as": owner|driver, "driver_name", "note"}``
``POST /api/polri_etle/tickets/{id}/dispute``         ``{"reason"}``: "bukan kendaraan saya"
``POST /api/polri_etle/tickets/{id}/dispute/decision``  ``{"upheld": bool, "note"}``
``POST /api/polri_etle/tickets/{id}/payment``         ``{"reference", "note"}``: paid; a block is lifted
``POST /api/polri_etle/tickets/{id}/lookup``          look the owner up again now
``GET  /api/polri_etle/blocks``                       registration-block requests; ``active``
====================================================  =====================================================

Every route needs the role officer (or admin) and ``[access.<agency>] data``
covering the ticket's agency (another agency's ticket answers 404 like an
unknown id). Every body may carry ``version``: a ticket changed since is 409.
A move the case does not allow is 409 with the reason.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.auth import audit
from core.auth.access import data_agencies, require_role
from core.auth.principal import Principal
from core.errors import ApiError
from core.request_body import check_version, read_object, text_field
from plugins.polri_etle.models import BlockRequest, Ticket
from plugins.polri_etle.ticket_states import STATES
from core.errors import Refused
from plugins.polri_etle.tickets import TicketDesk, block_public

BASE = "/api/polri_etle/tickets"
ROLES = ("officer",)


class TicketsApi:
    """The handlers; ``desk`` is set once the plugin has started."""

    def __init__(self) -> None:
        self.desk: TicketDesk | None = None

    def routes(self) -> list[Route]:
        one = BASE + "/{ticket_id}"
        return [
            Route(BASE, self.list_tickets, methods=["GET"]),
            Route(one, self.get_one, methods=["GET"]),
            Route(one + "/letter", self.letter, methods=["GET"]),
            Route(one + "/delivery", self.delivery, methods=["POST"]),
            Route(one + "/confirm", self.confirm, methods=["POST"]),
            Route(one + "/dispute", self.dispute, methods=["POST"]),
            Route(one + "/dispute/decision", self.decide, methods=["POST"]),
            Route(one + "/payment", self.payment, methods=["POST"]),
            Route(one + "/lookup", self.lookup, methods=["POST"]),
            Route("/api/polri_etle/blocks", self.blocks, methods=["GET"]),
        ]

    def _desk(self) -> TicketDesk:
        if self.desk is None:
            raise ApiError(503, "ETLE ticketing is not running")
        return self.desk

    def _agencies(self, request: Request, who: Principal) -> frozenset[str]:
        return data_agencies(who, request.app.state.services.deployment)

    async def _visible(self, request: Request) -> tuple[Principal, Ticket]:
        self._desk()
        who = require_role(request, *ROLES)
        raw = request.path_params["ticket_id"]
        t = await Ticket.get_or_none(id=int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if t is None or t.agency not in self._agencies(request, who):
            raise ApiError(404, f"unknown ticket {raw[:20]!r}")
        return who, t

    async def _acting(self, request: Request, keys: tuple[str, ...]) -> tuple[Principal, Ticket, dict[str, Any]]:
        who, t = await self._visible(request)
        body = await read_object(request, (*keys, "version"))
        check_version(body, t.version, f"ticket {t.reference}", t.state)
        return who, t, body

    async def _answer(self, call) -> Response:
        try:
            t = await call
        except Refused as exc:
            raise ApiError(exc.status, exc.reason) from None
        return JSONResponse(await self._desk().describe(t, history=True))

    # --- reading ---------------------------------------------------------------------------

    async def list_tickets(self, request: Request) -> Response:
        """The ETLE tickets the user may see, newest first.
        ---
        operationId: list_etle_tickets
        parameters:
          - {name: state, in: query, schema: {type: string, enum: [awaiting_registration, letter_pending, issued, confirmed, disputed, paid, dismissed]}}
          - {name: plate, in: query, description: 'as typed: spaces and case do not matter', schema: {type: string, maxLength: 32}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
        responses:
          200: {description: 'tickets', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        desk = self._desk()
        who = require_role(request, *ROLES)
        query = Ticket.filter(agency__in=list(self._agencies(request, who)))
        state = request.query_params.get("state")
        if state is not None:
            if state not in STATES:
                raise ApiError(400, f"state: {state[:30]!r} is not one of {', '.join(STATES)}")
            query = query.filter(state=state)
        plate = request.query_params.get("plate")
        if plate is not None:
            query = query.filter(plate="".join(ch for ch in plate.upper() if ch.isalnum())[:32])
        raw = request.query_params.get("limit", "50")
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 200:
            raise ApiError(400, f"limit: expected a whole number in 1..200, not {raw[:20]!r}")
        tickets = await query.order_by("-id").limit(int(raw))
        await audit.audit_read(request, "etle.ticket.list", "", f"{len(tickets)} tickets")
        return JSONResponse({"tickets": [await desk.describe(t) for t in tickets]})

    async def get_one(self, request: Request) -> Response:
        """One ticket: the case, the owner, the letter, the deadlines, the block, every move (audited).
        ---
        operationId: get_etle_ticket
        responses:
          200: {description: 'the ticket', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
        """
        _, t = await self._visible(request)
        await audit.audit_read(request, "etle.ticket.view", t.reference)
        return JSONResponse(await self._desk().describe(t, history=True))

    async def letter(self, request: Request) -> Response:
        """The confirmation letter (PDF, its SHA-256 in Repr-Digest); audited.
        ---
        operationId: get_etle_letter
        responses:
          200: {description: 'the letter', content: {application/pdf: {schema: {type: string, format: binary}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket, or no letter yet'}
          410: {$ref: '#/components/responses/Error', description: 'the letter was erased under the retention rule'}
        """
        _, t = await self._visible(request)
        if t.erased_at is not None:
            raise ApiError(410, f"ticket {t.reference}: the letter and the owner data were erased on "
                                f"{t.erased_at.date().isoformat()} under the retention rule (personal_data_days)")
        path = self._desk().data_dir / t.letter_path if t.letter_path else None
        if path is None or not path.is_file():
            raise ApiError(404, f"ticket {t.reference} has no letter yet ({t.state}: {t.waiting_reason or 'pending'})")
        await audit.audit_read(request, "etle.letter.view", t.reference, f"letter {t.letter_sha256}")
        digest = base64.b64encode(bytes.fromhex(t.letter_sha256 or "")).decode()
        return FileResponse(path, media_type="application/pdf", filename=f"{t.reference}.pdf",
                            headers={"Repr-Digest": f"sha-256=:{digest}:"})

    async def blocks(self, request: Request) -> Response:
        """Registration-block requests (unconfirmed at H+8, unpaid at H+15), newest first.
        ---
        operationId: list_etle_blocks
        parameters:
          - {name: active, in: query, description: 'true: only blocks not lifted', schema: {type: string, enum: ['true', 'false']}}
        responses:
          200: {description: 'block requests', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._desk()
        who = require_role(request, *ROLES)
        active = request.query_params.get("active")
        if active not in (None, "true", "false"):
            raise ApiError(400, f"active: expected true or false, not {active[:20]!r}")
        visible = {t.id: t.reference for t in await Ticket.filter(agency__in=list(self._agencies(request, who)))}
        query = BlockRequest.filter(ticket_id__in=list(visible))
        if active == "true":
            query = query.filter(lifted_at=None)
        elif active == "false":
            query = query.exclude(lifted_at=None)
        rows = await query.order_by("-id").limit(500)
        await audit.audit_read(request, "etle.block.list", "", f"{len(rows)} block requests")
        return JSONResponse({"blocks": [{**block_public(b), "reference": visible[b.ticket_id]} for b in rows]})

    # --- acting ----------------------------------------------------------------------------

    async def delivery(self, request: Request) -> Response:
        """Record what became of the posted letter: printed, sent, failed or returned.
        ---
        operationId: set_etle_delivery
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [status], properties: {status: {type: string, enum: [printed, sent, failed, returned]}, note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0}}}}}}
        responses:
          200: {description: 'the ticket', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'no letter yet, a delivery status that cannot follow the current one, or the ticket changed'}
          422: {$ref: '#/components/responses/Error', description: 'an unknown status'}
        """
        who, t, body = await self._acting(request, ("status", "note"))
        status = text_field(body, "status", required=True, size=16)
        if status not in ("printed", "sent", "failed", "returned"):
            raise ApiError(422, f"status: {status!r} is not one of printed, sent, failed, returned")
        return await self._answer(self._desk().set_delivery(t, status, who.username, text_field(body, "note")))

    async def confirm(self, request: Request) -> Response:
        """The owner confirms: as the driver (owner) or naming another driver (driver, with driver_name).
        ---
        operationId: confirm_etle_ticket
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [as], properties: {as: {type: string, enum: [owner, driver]}, driver_name: {type: string, maxLength: 200}, note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0}}}}}}
        responses:
          200: {description: 'the ticket, confirmed', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'not awaiting confirmation, or changed since loaded'}
          422: {$ref: '#/components/responses/Error', description: 'as is not owner or driver, or a driver without a name'}
        """
        who, t, body = await self._acting(request, ("as", "driver_name", "note"))
        as_ = text_field(body, "as", required=True, size=16)
        if as_ not in ("owner", "driver"):
            raise ApiError(422, f"as: {as_!r} is not owner or driver")
        driver = text_field(body, "driver_name", size=200)
        return await self._answer(self._desk().confirm(t, as_, driver, who.username, text_field(body, "note")))

    async def dispute(self, request: Request) -> Response:
        """The owner disputes the case ("bukan kendaraan saya"), with the reason.
        ---
        operationId: dispute_etle_ticket
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [reason], properties: {reason: {type: string, minLength: 1, maxLength: 1000}, version: {type: integer, minimum: 0}}}}}}
        responses:
          200: {description: 'the ticket, disputed', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'not awaiting confirmation, or changed since loaded'}
          422: {$ref: '#/components/responses/Error', description: 'no reason'}
        """
        who, t, body = await self._acting(request, ("reason",))
        reason = text_field(body, "reason", required=True)
        return await self._answer(self._desk().dispute(t, reason, who.username))

    async def decide(self, request: Request) -> Response:
        """Decide a dispute: upheld dismisses the case (the violation is closed); rejected asks for confirmation again.
        ---
        operationId: decide_etle_dispute
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [upheld, note], properties: {upheld: {type: boolean}, note: {type: string, minLength: 1, maxLength: 1000}, version: {type: integer, minimum: 0}}}}}}
        responses:
          200: {description: 'the ticket', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'not disputed, or changed since loaded'}
          422: {$ref: '#/components/responses/Error', description: 'no note'}
        """
        who, t, body = await self._acting(request, ("upheld", "note"))
        upheld = body.get("upheld")
        if not isinstance(upheld, bool):
            raise ApiError(400, "upheld: expected true or false")
        note = text_field(body, "note", required=True)
        return await self._answer(self._desk().decide_dispute(t, upheld, who.username, note))

    async def payment(self, request: Request) -> Response:
        """Record the fine as paid: a registration block is lifted and the violation closed.
        ---
        operationId: pay_etle_ticket
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [reference], properties: {reference: {type: string, minLength: 1, maxLength: 64, description: 'the payment reference (BRIVA, NTPN)'}, note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0}}}}}}
        responses:
          200: {description: 'the ticket, paid', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'not confirmed, or changed since loaded'}
          422: {$ref: '#/components/responses/Error', description: 'no payment reference'}
        """
        who, t, body = await self._acting(request, ("reference", "note"))
        reference = text_field(body, "reference", required=True, size=64)
        return await self._answer(self._desk().pay(t, reference, who.username, text_field(body, "note")))

    async def lookup(self, request: Request) -> Response:
        """Look the owner up again now, for a case waiting on the registry.
        ---
        operationId: retry_etle_lookup
        responses:
          200: {description: 'the ticket, moved on or still waiting with the reason', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown ticket'}
          409: {$ref: '#/components/responses/Error', description: 'the ticket does not wait for the registry'}
        """
        who, t, _ = await self._acting(request, ())
        if t.state != "awaiting_registration":
            raise ApiError(409, f"ticket {t.reference} is {t.state}: it does not wait for the registry")
        await audit.record(who.username, "etle.lookup.retry", t.reference, t.waiting_reason)
        return await self._answer(self._desk().advance(t, force=True))
