"""Event routes: list with filters, one event, its snapshot, acknowledge, and the live stream.

===================================  =================================================================
``GET  /api/events``                 newest first; filters ``camera kind zone area since until
                                     acknowledged``; ``limit`` and ``cursor`` (``next_cursor``) pages
``GET  /api/events/stream``          server-sent events (``Accept: text/event-stream``): ``event``
                                     and ``ack`` messages; ``Last-Event-ID`` replays what was missed
``GET  /api/events/{id}``            one event, with its acknowledgement
``GET  /api/events/{id}/snapshot``   its JPEG
``POST /api/events/{id}/ack``        acknowledge (operator, officer, admin) ``{"note"}``; once only
===================================  =================================================================

A user sees the events of the cameras their agency may watch
(:func:`core.auth.access.camera_agencies`); any other event answers 404 like
an unknown one. A malformed query is ``400`` with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from core.auth import audit
from core.auth.access import camera_agencies, current_principal, require_role
from core.auth.middleware import authenticate
from core.auth.principal import Principal
from core.errors import ApiError
from core.timeparse import parse_instant
from core.events import store
from core.events.bus import EventBus
from core.events.live import Dropped, Message
from core.events.models import EventRow
from core.events.types import EVENT_ID, KIND, REF
from core.request_body import read_object

ACK_ROLES = ("operator", "officer")
PAGE_DEFAULT, PAGE_MAX = 50, 200
REPLAY_MAX = 200  # events a reconnecting stream may catch up on; older ones: the list
HEARTBEAT_S = 15.0
MAX_NOTE = 500
FILTERS = ("camera", "kind", "zone", "area", "since", "until", "acknowledged", "limit", "cursor")
MAX_VALUES = 50


def _values(request: Request, key: str) -> list[str]:
    raw = request.query_params.getlist(key)
    values = [v for item in raw for v in item.split(",") if v]
    if len(values) > MAX_VALUES:
        raise ApiError(400, f"{key}: at most {MAX_VALUES} values")
    pattern = KIND if key == "kind" else REF
    for v in values:
        if not pattern.match(v):
            raise ApiError(400, f"{key}: not a valid {key}: {v[:40]!r}")
    return values


def _time(request: Request, key: str) -> datetime | None:
    return parse_instant(request.query_params.get(key), key)


def _int(request: Request, key: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):  # '²'.isdigit(), but int('²') fails
        raise ApiError(400, f"{key}: expected a whole number, not {raw[:20]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"{key}: {value} is outside {low}..{high}")
    return value


def _bool(request: Request, key: str) -> bool | None:
    raw = request.query_params.get(key)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{key}: expected true or false, not {raw[:20]!r}")


def _filters(request: Request, agencies: frozenset[str]) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - set(FILTERS))
    if unknown:
        raise ApiError(400, f"{unknown[0][:40]}: unknown parameter (known: {', '.join(FILTERS)})")
    query: dict[str, Any] = {"agency__in": sorted(agencies)}
    for key, column in (("camera", "camera_id"), ("kind", "kind"), ("zone", "zone_id"), ("area", "area")):
        values = _values(request, key)
        if values:
            query[f"{column}__in"] = values
    since, until = _time(request, "since"), _time(request, "until")
    if since and until and until < since:
        raise ApiError(400, "until: earlier than since")
    if since:
        query["wall_time__gte"] = since
    if until:
        query["wall_time__lt"] = until
    acked = _bool(request, "acknowledged")
    if acked is not None:
        query["acked_at__isnull"] = not acked
    return query


class EventsApi:
    """The handlers; ``bus`` is set once the app has started."""

    def __init__(self) -> None:
        self.bus: EventBus | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/api/events", self.list_events, methods=["GET"]),
            Route("/api/events/stream", self.stream, methods=["GET"]),  # before {event_id}
            Route("/api/events/{event_id}", self.get_event, methods=["GET"]),
            Route("/api/events/{event_id}/snapshot", self.snapshot, methods=["GET"]),
            Route("/api/events/{event_id}/ack", self.ack, methods=["POST"]),
        ]

    def _bus(self) -> EventBus:
        if self.bus is None:
            raise ApiError(503, "the event service is not running")
        return self.bus

    def _agencies(self, request: Request) -> frozenset[str]:
        return camera_agencies(current_principal(request), request.app.state.services.deployment)

    async def _visible(self, request: Request) -> store.StoredEvent:
        event_id = request.path_params["event_id"]
        agencies = self._agencies(request)
        item = await store.get(event_id) if EVENT_ID.match(event_id) else None
        if item is None or item.event.agency not in agencies:
            raise ApiError(404, f"unknown event {event_id[:40]!r}")
        return item

    async def list_events(self, request: Request) -> Response:
        """Events of the cameras the user may see, newest first, with filters and cursor pages.
        ---
        parameters:
          - {name: camera, in: query, schema: {type: string}}
          - {name: kind, in: query, schema: {type: string}}
          - {name: zone, in: query, schema: {type: string}}
          - {name: area, in: query, schema: {type: string}}
          - {name: acknowledged, in: query, schema: {type: string, enum: ['true', 'false']}}
          - {name: since, in: query, schema: {type: string, format: date-time}}
          - {name: until, in: query, schema: {type: string, format: date-time}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
          - {name: cursor, in: query, schema: {type: integer, minimum: 1}}
        responses:
          200: {description: 'a page of events', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._bus()
        query = _filters(request, self._agencies(request))
        limit = _int(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
        cursor = _int(request, "cursor", None, 1, 2**62)
        if cursor is not None:
            query["seq__lt"] = cursor
        rows = await EventRow.filter(**query).order_by("-seq").limit(limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        body = {
            "events": [store.from_row(r).public() for r in rows],
            "next_cursor": str(rows[-1].seq) if more else None,
        }
        return JSONResponse(body)

    async def get_event(self, request: Request) -> Response:
        """One event with its acknowledgement.
        ---
        responses:
          200: {description: 'the event', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._bus()
        return JSONResponse((await self._visible(request)).public())

    async def snapshot(self, request: Request) -> Response:
        """The event's snapshot with its boxes drawn, as JPEG.
        ---
        responses:
          200: {description: 'the picture', content: {image/jpeg: {schema: {type: string, format: binary}}}}
        """
        item = await self._visible(request)
        snap = item.event.snapshot
        path = request.app.state.services.data_dir / snap.path if snap else None
        if path is None or not path.is_file():
            raise ApiError(404, f"event {item.event.id} has no snapshot")
        return FileResponse(path, media_type="image/jpeg", headers={"Repr-Digest": f"sha-256=:{_b64(snap.sha256)}:"})

    async def ack(self, request: Request) -> Response:
        """Acknowledge the event (once; the second answers 409 naming who and when).
        ---
        requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false, properties: {note: {type: string, maxLength: 500}}}}}}
        responses:
          200: {description: 'the event, acknowledged', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          409: {$ref: '#/components/responses/Error', description: 'already acknowledged'}
        """
        bus = self._bus()
        item = await self._visible(request)
        who = require_role(request, *ACK_ROLES)
        body = await read_object(request, ("note",))
        note = body.get("note", "")
        if not isinstance(note, str):
            raise ApiError(400, "note: expected a string")
        if len(note) > MAX_NOTE:
            raise ApiError(400, f"note: {len(note)} characters, at most {MAX_NOTE}")
        after, won = await store.acknowledge(item.event.id, who.username, note)
        assert after is not None and after.ack is not None
        if not won:
            ack = after.ack
            raise ApiError(409, f"event {item.event.id} was already acknowledged by {ack.by} at {ack.at.isoformat()}")
        detail = f"{after.event.kind} on {after.event.camera_id}" + (f"; note: {note}" if note else "")
        await audit.record(who.username, "event.ack", after.event.id, detail)
        bus.acknowledged(after)
        return JSONResponse(after.public())

    async def stream(self, request: Request) -> Response:
        """Live events as server-sent events (send Accept: text/event-stream).
        ---
        responses:
          200: {description: 'the stream', content: {text/event-stream: {schema: {type: string}}}}
          406: {$ref: '#/components/responses/Error', description: 'the client does not accept text/event-stream'}
        """
        bus = self._bus()
        if "text/event-stream" not in request.headers.get("accept", ""):
            raise ApiError(406, "a server-sent event stream: send Accept: text/event-stream (EventSource does)")
        principal = current_principal(request)
        agencies = self._agencies(request)
        last = request.headers.get("last-event-id", "").strip()
        if last and not (last.isascii() and last.isdigit()):
            raise ApiError(400, f"Last-Event-ID: expected an event's seq, not {last[:20]!r}")
        # subscribe before the replay reads, so nothing falls between them (a repeat may: ids tell)
        sub = bus.subscribe(lambda m: m.agency in agencies)
        replay: list[store.StoredEvent] = []
        try:
            if last:
                query = EventRow.filter(seq__gt=int(last), agency__in=sorted(agencies))
                replay = [store.from_row(r) for r in reversed(await query.order_by("-seq").limit(REPLAY_MAX))]
        except BaseException:
            sub.close()
            raise

        async def body() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                for item in replay:
                    yield _sse(Message("event", item.seq, item.event.agency, item.public()))
                while True:
                    try:
                        msg = await asyncio.wait_for(sub.next(), HEARTBEAT_S)
                    except TimeoutError:
                        # a stream outlives a log-out, a revoked token or a changed role unless checked
                        if not await _same_principal(request, principal):
                            yield "event: logout\ndata: {}\n\n"
                            return
                        yield ": keep-alive\n\n"
                        continue
                    except Dropped as exc:
                        yield f"event: dropped\ndata: {json.dumps({'reason': str(exc)})}\n\n"
                        return
                    yield _sse(msg)
            finally:
                sub.close()

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def _same_principal(request: Request, principal: Principal) -> bool:
    result = await authenticate(request.scope)
    return isinstance(result, tuple) and result[0] == principal


def _sse(msg: Message) -> str:
    # acks carry the event's seq too; only new events move the client's Last-Event-ID
    head = f"id: {msg.seq}\n" if msg.kind == "event" else ""
    return f"{head}event: {msg.kind}\ndata: {json.dumps(msg.body, separators=(',', ':'))}\n\n"


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
