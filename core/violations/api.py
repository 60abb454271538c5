"""Violation routes: the officers' review queue, one violation with its history, the decisions, the report.

===========================================  ==========================================================
``GET   /api/violations``                    newest first (``order=oldest``: a queue's order); filters
                                             ``state area camera kind plate since until``; ``limit`` and
                                             ``cursor`` (``next_cursor``) pages
``POST  /api/violations``                    enter one by hand ``{"camera", "kind", "wall_time", ...}``
``GET   /api/violations/stats``              rejections per officer, reason and plate (supervisors)
``GET   /api/violations/summary``            the dashboard's figures over ``days`` (readers)
``GET   /api/violations/{id}``               one, with evidence links, transitions, plate edits, the
                                             plate's earlier violations
``GET   /api/violations/{id}/snapshot``      its picture; ``/clip``: its evidence clip
``PATCH /api/violations/{id}/plate``         enter or confirm the plate ``{"plate", "note"}``
``POST  /api/violations/{id}/verify``        ``{"officer_name", "note", "version"}``
``POST  /api/violations/{id}/reject``        ``{"reason", "note", "officer_name", "version"}``
``POST  /api/violations/{id}/action``        the ladder step was carried out ``{"note", "version"}``
``POST  /api/violations/{id}/close``         ``{"note", "version"}``
``POST  /api/violations/{id}/assign``        ``{"user", "version"}``: an officer takes it (supervisors: to an officer)
===========================================  ==========================================================

Reading needs the role officer, prosecutor, supervisor or admin; acting, officer
or admin (a supervisor may assign, and reads the report, but decides nothing);
in every case ``[access.<agency>] data`` must cover the camera's
agency (anything else answers 404 like an unknown id). Every answer that
carries a plate or evidence is written to the audit log.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.areas import enforcement_mode
from core.auth import audit
from core.auth.access import data_agencies, require_role
from core.auth.principal import Principal
from core.errors import ApiError
from core.timeparse import parse_instant
from core.events.types import KIND, REF
from core.models import EvidenceClip, User
from core.request_body import check_version, read_object, text_field
from core.violations.models import PlateEdit, Violation, ViolationTransition
from core.errors import Refused
from core.violations.service import Detection, ViolationService
from core.violations.states import ALLOWED, STATES
from core.violations.summary import DAYS_MAX, summary

READ_ROLES = ("officer", "prosecutor", "supervisor")
ACT_ROLES = ("officer",)
REPORT_ROLES = ("supervisor",)  # the supervisors' report (admins too)
ASSIGN_ROLES = ("officer", "supervisor")  # a supervisor hands out the queue but decides nothing
PAGE_DEFAULT, PAGE_MAX = 50, 200
HISTORY_MAX = 20
USERNAME_MAX = 64  # core.models.User.username
FILTERS = ("state", "area", "camera", "kind", "plate", "since", "until", "order", "limit", "cursor")
STATS_DEFAULT_DAYS = 90


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value is not None else None


def _values(request: Request, key: str, pattern) -> list[str]:
    values = [v for item in request.query_params.getlist(key) for v in item.split(",") if v]
    if len(values) > 50:
        raise ApiError(400, f"{key}: at most 50 values")
    for v in values:
        if not pattern.match(v):
            raise ApiError(400, f"{key}: not a valid {key}: {v[:40]!r}")
    return values


def _int(request: Request, key: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:  # '²'.isdigit(), int('²') fails
        raise ApiError(400, f"{key}: expected a whole number in {low}..{high}, not {raw[:20]!r}")
    return int(raw)


def describe(service: ViolationService, v: Violation) -> dict[str, Any]:
    """A violation as the API shows it (sinks read the same through the ``ViolationDesk``)."""
    blocker = service.plate_blocker(v) if v.state in ("detected", "awaiting_review") else None
    clip = None
    if v.clip_id:
        clip = {"id": v.clip_id, "url": f"/api/violations/{v.id}/clip", "info": f"/api/clips/{v.clip_id}"}
    return {
        "id": v.id,
        "kind": v.kind,
        "camera": v.camera_id,
        "agency": v.agency,
        "area": v.area,
        "zone": v.zone_id,
        "mode": v.mode,
        "wall_time": _iso(v.wall_time),
        "event": v.event_id,
        "state": v.state,
        "allowed": list(ALLOWED.get(v.state, ())),
        "version": v.version,
        "plate": {
            "text": v.plate, "confidence": v.plate_confidence, "source": v.plate_source,
            "problem": v.plate_problem or None, "confirmed_by": v.plate_confirmed_by, "blocker": blocker,
        },
        "vehicle_class": v.vehicle_class,
        "legal": json.loads(v.legal) if v.legal else None,
        "ladder_step": v.ladder_step,
        "offence_count": v.offence_count,
        "created_by": v.created_by,
        "created_at": _iso(v.created_at),
        "updated_at": _iso(v.updated_at),
        "assigned_to": v.assigned_to,
        "decided_by": v.decided_by,
        "decided_at": _iso(v.decided_at),
        "officer_name": v.officer_name,
        "rejection": {"reason": v.reject_reason, "note": v.reject_note} if v.reject_reason else None,
        "evidence": {
            "snapshot": {"url": f"/api/violations/{v.id}/snapshot", "sha256": v.snapshot_sha256}
            if v.snapshot_path else None,
            "clip": clip,
        },
    }


class ViolationsApi:
    """The handlers; ``service`` is set once the app has started."""

    def __init__(self) -> None:
        self.service: ViolationService | None = None

    def routes(self) -> list[Route]:
        base = "/api/violations"
        return [
            Route(base, self.list_violations, methods=["GET"]),
            Route(base, self.create, methods=["POST"]),
            Route(f"{base}/stats", self.stats, methods=["GET"]),  # before {violation_id}
            Route(f"{base}/summary", self.summary, methods=["GET"]),
            Route(base + "/{violation_id}", self.get_one, methods=["GET"]),
            Route(base + "/{violation_id}/snapshot", self.snapshot, methods=["GET"]),
            Route(base + "/{violation_id}/clip", self.clip, methods=["GET"]),
            Route(base + "/{violation_id}/plate", self.plate, methods=["PATCH"]),
            Route(base + "/{violation_id}/verify", self.verify, methods=["POST"]),
            Route(base + "/{violation_id}/reject", self.reject, methods=["POST"]),
            Route(base + "/{violation_id}/action", self.action, methods=["POST"]),
            Route(base + "/{violation_id}/close", self.close, methods=["POST"]),
            Route(base + "/{violation_id}/assign", self.assign, methods=["POST"]),
        ]

    def _service(self) -> ViolationService:
        if self.service is None:
            raise ApiError(503, "the violation service is not running")
        return self.service

    def _agencies(self, request: Request, who: Principal) -> frozenset[str]:
        return data_agencies(who, request.app.state.services.deployment)

    async def _visible(self, request: Request, *roles: str) -> tuple[Principal, Violation]:
        self._service()
        who = require_role(request, *roles)
        raw = request.path_params["violation_id"]
        v = await Violation.get_or_none(id=int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if v is None or v.agency not in self._agencies(request, who):
            raise ApiError(404, f"unknown violation {raw[:20]!r}")
        return who, v

    def public(self, v: Violation) -> dict[str, Any]:
        return describe(self._service(), v)

    # --- reading -----------------------------------------------------------------

    async def list_violations(self, request: Request) -> Response:
        """The violations the user may see, newest first (order=oldest: a queue), with filters and cursor pages.
        ---
        operationId: list_violations
        parameters:
          - {name: state, in: query, description: 'states, comma-separated', schema: {type: string}}
          - {name: area, in: query, description: 'areas, comma-separated', schema: {type: string}}
          - {name: camera, in: query, description: 'camera ids, comma-separated', schema: {type: string}}
          - {name: kind, in: query, description: 'kinds, comma-separated', schema: {type: string}}
          - {name: plate, in: query, schema: {type: string}}
          - {name: since, in: query, schema: {type: string, format: date-time}}
          - {name: until, in: query, schema: {type: string, format: date-time}}
          - {name: order, in: query, schema: {type: string, enum: [newest, oldest]}}
          - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 200}}
          - {name: cursor, in: query, schema: {type: integer, minimum: 1, maximum: 2147483648}}
        responses:
          200: {description: 'a page of violations and next_cursor', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._service()
        who = require_role(request, *READ_ROLES)
        unknown = sorted(set(request.query_params) - set(FILTERS))
        if unknown:
            raise ApiError(400, f"{unknown[0][:40]}: unknown parameter (known: {', '.join(FILTERS)})")
        query: dict[str, Any] = {"agency__in": sorted(self._agencies(request, who))}
        states = _values(request, "state", REF)
        bad = [s for s in states if s not in STATES]
        if bad:
            raise ApiError(400, f"state: unknown state {bad[0][:20]!r} (one of: {', '.join(STATES)})")
        for key, column, pattern in (("state", "state", REF), ("area", "area", REF), ("camera", "camera_id", REF),
                                     ("kind", "kind", KIND)):
            values = _values(request, key, pattern)
            if values:
                query[f"{column}__in"] = values
        plate = request.query_params.get("plate")
        if plate is not None:
            query["plate"] = self._service().check_plate(plate, None)[0]
        since = parse_instant(request.query_params.get("since"), "since")
        until = parse_instant(request.query_params.get("until"), "until")
        if since and until and until < since:
            raise ApiError(400, "until: earlier than since")
        if since:
            query["wall_time__gte"] = since
        if until:
            query["wall_time__lt"] = until
        limit = _int(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
        order = request.query_params.get("order", "newest")
        if order not in ("newest", "oldest"):
            raise ApiError(400, f"order: newest or oldest, not {order[:20]!r}")
        cursor = _int(request, "cursor", None, 1, 2**31)
        if cursor is not None:
            query["id__lt" if order == "newest" else "id__gt"] = cursor
        rows = await Violation.filter(**query).order_by("-id" if order == "newest" else "id").limit(limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        if rows:  # plates are personal data: who listed which
            await audit.audit_read(request, "violation.list", "", "ids " + ",".join(str(v.id) for v in rows))
        return JSONResponse({"violations": [self.public(v) for v in rows],
                             "next_cursor": str(rows[-1].id) if more else None})

    async def get_one(self, request: Request) -> Response:
        """One violation with its transitions, plate edits and the plate's earlier violations; audited.
        ---
        operationId: get_violation
        responses:
          200: {description: 'the violation', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
        """
        who, v = await self._visible(request, *READ_ROLES)
        body = self.public(v)
        transitions = await ViolationTransition.filter(violation_id=v.id).order_by("id")
        body["transitions"] = [
            {"from": t.from_state, "to": t.to_state, "by": t.by, "at": _iso(t.at), "reason": t.reason}
            for t in transitions
        ]
        edits = await PlateEdit.filter(violation_id=v.id).order_by("id")
        body["plate_edits"] = [
            {"old": e.old_plate, "new": e.new_plate, "old_confidence": e.old_confidence, "by": e.by, "at": _iso(e.at),
             "note": e.note} for e in edits
        ]
        body["plate_history"] = []
        if v.plate:
            earlier = await Violation.filter(plate=v.plate, agency__in=sorted(self._agencies(request, who))).exclude(
                id=v.id).order_by("-wall_time").limit(HISTORY_MAX)
            body["plate_history"] = [
                {"id": o.id, "kind": o.kind, "camera": o.camera_id, "wall_time": _iso(o.wall_time), "state": o.state,
                 "ladder_step": o.ladder_step, "rejection": o.reject_reason} for o in earlier
            ]
        await audit.audit_read(request, "violation.view", str(v.id), f"plate {v.plate or 'none'}")
        return JSONResponse(body)

    async def snapshot(self, request: Request) -> Response:
        """The violation's snapshot (JPEG, with its SHA-256 in Repr-Digest); audited.
        ---
        operationId: get_violation_snapshot
        responses:
          200: {description: 'the picture', content: {image/jpeg: {schema: {type: string, format: binary}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown violation, or it has no snapshot'}
        """
        _, v = await self._visible(request, *READ_ROLES)
        path = request.app.state.services.data_dir / v.snapshot_path if v.snapshot_path else None
        if path is None or not path.is_file():
            raise ApiError(404, f"violation {v.id} has no snapshot")
        await audit.audit_read(request, "violation.evidence", str(v.id), f"snapshot {v.snapshot_sha256}")
        digest = base64.b64encode(bytes.fromhex(v.snapshot_sha256 or "")).decode()
        return FileResponse(path, media_type="image/jpeg", headers={"Repr-Digest": f"sha-256=:{digest}:"})

    async def clip(self, request: Request) -> Response:
        """The violation's evidence clip (MP4, with its SHA-256 in Repr-Digest); audited.
        ---
        operationId: get_violation_clip
        responses:
          200: {description: 'the clip', content: {video/mp4: {schema: {type: string, format: binary}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown violation, or it has no clip ready'}
          410: {$ref: '#/components/responses/Error', description: 'the file of the clip is no longer in storage'}
        """
        _, v = await self._visible(request, *READ_ROLES)
        row = await EvidenceClip.get_or_none(id=v.clip_id) if v.clip_id else None
        if row is None or row.status != "ready" or not row.sha256:
            raise ApiError(404, f"violation {v.id} has no clip ready")
        services = request.app.state.services
        directory = services.clips.directory if services.clips is not None else Path(services.data_dir) / "clips"
        path = directory / row.file
        if not path.is_file():
            raise ApiError(410, f"the file of clip {row.id} is no longer in storage")
        await audit.audit_read(request, "violation.evidence", str(v.id), f"clip {row.id} {row.sha256}")
        digest = base64.b64encode(bytes.fromhex(row.sha256)).decode()
        return FileResponse(path, media_type="video/mp4", headers={"Repr-Digest": f"sha-256=:{digest}:"})

    async def summary(self, request: Request) -> Response:
        """The dashboard's figures: per area and day, per kind, ladder steps, the backlog, time to review.
        ---
        parameters:
          - {name: days, in: query, required: false, schema: {type: integer, minimum: 1, maximum: 366, default: 30},
             description: 'the last N days (UTC) by detection time'}
        responses:
          200:
            description: >-
              {days, since, total, per_area_day: {area: {day: n}}, per_kind, per_state, ladder_actions,
              backlog: {awaiting_review, oldest_waiting_s}, time_to_review_s: {decided, median, p90},
              rejection_reasons, ladder, kinds}
            content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}
        """
        service = self._service()
        who = require_role(request, *READ_ROLES)
        unknown = sorted(set(request.query_params) - {"days"})
        if unknown:
            raise ApiError(400, f"{unknown[0][:40]}: unknown parameter (known: days)")
        days = _int(request, "days", 30, 1, DAYS_MAX)
        body = await summary(sorted(self._agencies(request, who)), days, datetime.now(timezone.utc))
        body["rejection_reasons"] = list(service.settings.rejection_reasons)
        body["ladder"] = [step.name for step in service.settings.ladder.steps]
        body["kinds"] = sorted(service.settings.laws)
        return JSONResponse(body)

    async def stats(self, request: Request) -> Response:
        """Supervisors' report (supervisors and admins, of the data their agency may read); audited.
        ---
        operationId: violation_stats
        parameters:
          - {name: since, in: query, schema: {type: string, format: date-time}}
          - {name: until, in: query, schema: {type: string, format: date-time}}
        responses:
          200: {description: 'rejections per officer, reason and plate, flagged plates', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        service = self._service()
        who = require_role(request, *REPORT_ROLES)
        unknown = sorted(set(request.query_params) - {"since", "until"})
        if unknown:
            raise ApiError(400, f"{unknown[0][:40]}: unknown parameter (known: since, until)")
        until = parse_instant(request.query_params.get("until"), "until") or datetime.now(timezone.utc)
        since = parse_instant(request.query_params.get("since"), "since") or until - timedelta(days=STATS_DEFAULT_DAYS)
        if until < since:
            raise ApiError(400, "until: earlier than since")
        rows = await Violation.filter(
            agency__in=sorted(self._agencies(request, who)), decided_at__gte=since, decided_at__lt=until,
            decided_by__isnull=False,
        ).values("decided_by", "state", "reject_reason", "plate")
        officers: dict[str, Counter] = defaultdict(Counter)
        plates: dict[str, Counter] = defaultdict(Counter)
        reasons: Counter = Counter()
        for r in rows:
            rejected = r["state"] == "rejected"
            officers[r["decided_by"]]["decided"] += 1
            officers[r["decided_by"]]["rejected"] += rejected
            if rejected:
                reasons[r["reject_reason"]] += 1
            if r["plate"]:
                plates[r["plate"]]["decided"] += 1
                plates[r["plate"]]["rejected"] += rejected

        def rate(c: Counter) -> float:
            return round(c["rejected"] / c["decided"], 3) if c["decided"] else 0.0

        threshold = service.settings.flag_rejections
        await audit.audit_read(request, "violation.stats", "", f"{_iso(since)} .. {_iso(until)}")
        return JSONResponse({
            "since": _iso(since), "until": _iso(until), "decided": len(rows), "flag_rejections": threshold,
            "officers": [{"user": k, "decided": c["decided"], "rejected": c["rejected"], "rejection_rate": rate(c)}
                         for k, c in sorted(officers.items())],
            "reasons": [{"reason": k, "rejected": n} for k, n in reasons.most_common()],
            "plates": [{"plate": k, "decided": c["decided"], "rejected": c["rejected"], "rejection_rate": rate(c),
                        "flagged": c["rejected"] >= threshold}
                       for k, c in sorted(plates.items(), key=lambda kv: (-kv[1]["rejected"], kv[0])) if c["rejected"]],
        })

    # --- acting --------------------------------------------------------------------

    async def _acting(
        self, request: Request, keys: tuple[str, ...], roles: tuple[str, ...] = ACT_ROLES
    ) -> tuple[Principal, Violation, dict[str, Any]]:
        who, v = await self._visible(request, *roles)
        body = await read_object(request, (*keys, "version"))
        check_version(body, v.version, f"violation {v.id}", v.state)
        return who, v, body

    async def _answer(self, call) -> Response:
        try:
            v = await call
        except Refused as exc:
            raise ApiError(exc.status, exc.reason) from None
        return JSONResponse(self.public(v))

    async def verify(self, request: Request) -> Response:
        """Verify the violation (officers, admins): it goes on to its ladder step.
        ---
        operationId: verify_violation
        requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false, properties: {officer_name: {type: string, maxLength: 128}, note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, verified', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'not awaiting review, its plate still needs an officer, or it changed since you loaded it'}
        """
        who, v, body = await self._acting(request, ("officer_name", "note"))
        name = text_field(body, "officer_name", size=128) or who.username
        return await self._answer(self._service().verify(v, who.username, name, text_field(body, "note")))

    async def reject(self, request: Request) -> Response:
        """Reject the violation with a reason from the deployment's list, a note and the officer's name.
        ---
        operationId: reject_violation
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [reason, note, officer_name], properties: {reason: {type: string, maxLength: 32}, note: {type: string, minLength: 1, maxLength: 1000}, officer_name: {type: string, minLength: 1, maxLength: 128}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, rejected', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'the move is not allowed from its state, or it changed since you loaded it (version)'}
          422: {$ref: '#/components/responses/Error', description: 'a reason not in [enforcement] rejection_reasons, or a note or name missing'}
        """
        who, v, body = await self._acting(request, ("reason", "note", "officer_name"))
        reason = text_field(body, "reason", required=True, size=32)
        note = text_field(body, "note", required=True)
        name = text_field(body, "officer_name", required=True, size=128)
        return await self._answer(self._service().reject(v, who.username, reason, note, name))

    async def action(self, request: Request) -> Response:
        """Record that the violation's ladder step was carried out.
        ---
        operationId: record_violation_action
        requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false, properties: {note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, action taken', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'the move is not allowed from its state, or it changed since you loaded it (version)'}
        """
        who, v, body = await self._acting(request, ("note",))
        return await self._answer(self._service().take_action(v, who.username, text_field(body, "note")))

    async def close(self, request: Request) -> Response:
        """Close the violation once its ticket was handed over.
        ---
        operationId: close_violation
        requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false, properties: {note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, closed', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'the move is not allowed from its state, or it changed since you loaded it (version)'}
        """
        who, v, body = await self._acting(request, ("note",))
        return await self._answer(self._service().close(v, who.username, text_field(body, "note")))

    async def assign(self, request: Request) -> Response:
        """Assign the violation for review: an officer to themselves (user omitted), a supervisor to an officer who may
        read it, an admin to anyone; null frees it.
        ---
        operationId: assign_violation
        requestBody: {required: false, content: {application/json: {schema: {type: object, additionalProperties: false, properties: {user: {type: [string, 'null'], maxLength: 64}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, assigned', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          403: {$ref: '#/components/responses/Error', description: 'an officer assigning it to someone else'}
          422: {$ref: '#/components/responses/Error', description: 'no active user of that name, or (a supervisor) not an officer who may read it'}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'not awaiting review, or it changed since you loaded it'}
        """
        who, v, body = await self._acting(request, ("user",), ASSIGN_ROLES)
        if who.role == "supervisor" and "user" not in body:
            raise ApiError(422, "user: a supervisor names the officer to assign (or null to free it)")
        to = body.get("user", who.username)
        if to is not None and not isinstance(to, str):
            raise ApiError(400, "user: expected a user name or null")
        if who.role == "officer" and to not in (who.username, None):
            raise ApiError(403, "an officer assigns violations to themselves only; supervisors and admins assign "
                                "them to anyone")
        if who.role == "supervisor" and to is not None:
            await self._reviewer(request, to[:USERNAME_MAX + 1], v)
        # longer than any user name: the column's bound would refuse the query itself (a 500)
        if to is not None and to != who.username and (len(to) > USERNAME_MAX
                                                      or not await User.exists(username=to, disabled=False)):
            raise ApiError(422, f"user: no active user named {to[:64]!r}")
        return await self._answer(self._service().assign(v, to, who.username))

    async def _reviewer(self, request: Request, username: str, v: Violation) -> None:
        """422 unless ``username`` is an active officer (or admin) whose agency may read ``v``: a supervisor hands
        work only to someone who can do it."""
        user = await User.get_or_none(username=username, disabled=False) if len(username) <= USERNAME_MAX else None
        if user is None:
            raise ApiError(422, f"user: no active user named {username[:64]!r}")
        deployment = request.app.state.services.deployment
        if user.role not in ("officer", "admin") or v.agency not in data_agencies(user, deployment):
            raise ApiError(422, f"user: {username!r} is no officer who may review violations of {v.agency}")

    async def plate(self, request: Request) -> Response:
        """Enter or confirm the plate (it counts as confirmed by you); the edit is kept and audited.
        ---
        operationId: set_violation_plate
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [plate], properties: {plate: {type: string, minLength: 1, maxLength: 32}, note: {type: string, maxLength: 1000}, version: {type: integer, minimum: 0, description: 'the version you loaded; 409 if it changed since'}}}}}}
        responses:
          200: {description: 'the violation, with the remark of the plate validator as validation', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          404: {$ref: '#/components/responses/Error', description: 'unknown, or of an agency whose data you may not see'}
          409: {$ref: '#/components/responses/Error', description: 'already decided, or it changed since you loaded it'}
          422: {$ref: '#/components/responses/Error', description: 'no plate, or one with no letters or digits'}
        """
        who, v, body = await self._acting(request, ("plate", "note"))
        text = text_field(body, "plate", required=True, size=32)
        try:
            v, remark = await self._service().set_plate(v, text, who.username, text_field(body, "note"))
        except Refused as exc:
            raise ApiError(exc.status, exc.reason) from None
        answer = self.public(v)
        answer["validation"] = remark
        return JSONResponse(answer)

    async def create(self, request: Request) -> Response:
        """Enter a violation by hand (officers, admins) on a camera whose agency's data you may see.
        ---
        operationId: create_violation
        requestBody: {required: true, content: {application/json: {schema: {type: object, additionalProperties: false, required: [camera, kind, wall_time], properties: {camera: {type: string, minLength: 1, maxLength: 64}, kind: {type: string, minLength: 1, maxLength: 98}, wall_time: {type: string, format: date-time}, zone: {type: string, maxLength: 64}, plate: {type: string, maxLength: 32}, plate_confidence: {type: [number, 'null'], minimum: 0, maximum: 1}, vehicle_class: {type: string, maxLength: 32}, clip: {type: string, maxLength: 16}}}}}}
        responses:
          201: {description: 'the violation, awaiting review (Location: its URL)', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          422: {$ref: '#/components/responses/Error', description: 'an unknown camera or kind, or a key missing or out of range'}
        """
        service = self._service()
        who = require_role(request, *ACT_ROLES)
        keys = ("camera", "kind", "wall_time", "zone", "plate", "plate_confidence", "vehicle_class", "clip")
        body = await read_object(request, keys)
        services = request.app.state.services
        camera = text_field(body, "camera", required=True, size=64)
        runtime = services.cameras.get(camera) if services.cameras is not None and REF.match(camera) else None
        if runtime is None or runtime.info.agency not in self._agencies(request, who):
            raise ApiError(422, f"camera: unknown camera {camera[:40]!r}")
        kind = text_field(body, "kind", required=True, size=98)
        if not KIND.match(kind) or not service.is_violation(kind):
            known = ", ".join(sorted(service.settings.laws)) or "none configured in [enforcement.laws]"
            raise ApiError(422, f"kind: {kind[:40]!r} is not a violation kind (known: {known})")
        wall_time = parse_instant(body.get("wall_time"), "wall_time")
        if wall_time is None:
            raise ApiError(422, "wall_time: required")
        confidence = body.get("plate_confidence")
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                       or not 0 <= confidence <= 1):
            raise ApiError(422, "plate_confidence: expected a number in 0..1")
        zone = text_field(body, "zone", size=64) or None
        clip = text_field(body, "clip", size=16) or None
        found = Detection(
            kind=kind, camera_id=camera, agency=runtime.info.agency, area=runtime.info.area,
            mode=enforcement_mode(services.deployment, runtime.info.area), wall_time=wall_time, zone_id=zone,
            clip_id=clip, plate=text_field(body, "plate", size=32) or None,
            plate_confidence=float(confidence) if confidence is not None else None,
            vehicle_class=text_field(body, "vehicle_class", size=32) or None,
        )
        v = await service.create(found, by=who.username)
        return JSONResponse(self.public(v), status_code=201, headers={"Location": f"/api/violations/{v.id}"})
