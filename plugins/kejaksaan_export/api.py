"""The prosecutor's HTTP API and page.

=====================================================================  ===============================
``GET  /api/kejaksaan_export/exports``                                 every batch, with its progress
``POST /api/kejaksaan_export/exports``                                 export now (202; the batch)
``GET  /api/kejaksaan_export/exports/{name}``                          one batch, its cases and files
``GET  /api/kejaksaan_export/exports/{name}/files/{path}``             one file of a complete batch
``GET  /api/kejaksaan_export/cases``                                   the cases, newest first
``GET  /api/kejaksaan_export/cases/{violation_id}``                    one case
``POST /api/kejaksaan_export/cases/{violation_id}/result``             the court's decision, payment
``POST /api/kejaksaan_export/results``                                 the same as a CSV (text/csv)
``GET  /api/kejaksaan_export/public-key``                              the key batches are signed with
``GET  /api/kejaksaan_export/page``                                     the page (plugin routes live under /api/<name>/)
=====================================================================  ===============================

Every read of personal data (a batch's cases, a file, the cases, a case) is
audited (``core.auth.audit.audit_read``), as is every result recorded.

Readers: admins and the users of the prosecutor's agency (``prosecutor_agency``),
who see the cases of the agencies whose data they may read. Recording results
and exporting: the role ``prosecutor`` of that agency, or an admin. No route
here shows a camera: the prosecutor's users get no live video from B-Connect.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.auth import audit
from core.auth.access import current_principal, data_agencies, require_role
from core.auth.principal import Principal
from core.errors import ApiError
from core.request_body import limited_body, read_json
from plugins.kejaksaan_export import casefile, results, signing
from plugins.kejaksaan_export.batch import ExportFailed
from plugins.kejaksaan_export.models import ExportBatch, ExportCase
from plugins.kejaksaan_export.verify import MANIFEST, SIGNATURE

BASE = "/api/kejaksaan_export"
PAGE = Path(__file__).resolve().parent / "page.html"
NAME = re.compile(r"^KJ-\d{8}-\d{4,}$")
MAX_CSV = 2 * 1024 * 1024
OBJECT = "{content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}"


def manifest_files(folder: Path) -> list[dict[str, Any]] | None:
    """The files a batch's manifest lists, or ``None`` when it cannot be read; blocking."""
    try:
        return list(json.loads((folder / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def describe_batch(b: ExportBatch) -> dict[str, Any]:
    return {
        "name": b.name, "state": b.state, "trigger": b.trigger, "requested_by": b.requested_by,
        "created_at": _iso(b.created_at), "completed_at": _iso(b.completed_at), "cases": b.cases, "done": b.done,
        "progress": round(b.done / b.cases, 3) if b.cases else 1.0, "hearing_date": b.hearing_date,
        "manifest_sha256": b.manifest_sha256, "error": b.error or None, "url": f"{BASE}/exports/{b.name}",
    }


def case_state(c: ExportCase, batch: ExportBatch | None) -> str:
    if c.closed_at is not None:
        return "closed"
    if c.decided_on is not None:
        return "decided"
    if batch is not None and batch.state == "complete":
        return "sent"
    return "waiting"


def describe_case(c: ExportCase, batch: ExportBatch | None) -> dict[str, Any]:
    facts = json.loads(c.facts)
    legal = facts.get("legal") or {}
    return {
        "case_no": casefile.case_no(c.violation_id), "violation_id": c.violation_id, "agency": c.agency,
        "state": case_state(c, batch), "batch": batch.name if batch else None, "plate": facts.get("plate"),
        "kind": facts.get("kind"), "pasal": legal.get("pasal"), "ayat": legal.get("ayat"),
        "wall_time": facts.get("wall_time"), "camera_name": facts.get("camera_name"),
        "investigator": facts.get("officer_name"), "received_at": _iso(c.received_at),
        "result": None if c.decided_on is None else {
            "fine": c.fine, "court_fee": c.court_fee, "subsidiary_days": c.subsidiary_days, "decided_on": c.decided_on,
            "verdict": c.verdict or None, "paid_amount": c.paid_amount, "paid_on": c.paid_on, "ntpn": c.ntpn or None,
            "channel": c.channel or None, "confinement_served": c.confinement_served, "by": c.result_by,
            "at": _iso(c.result_at)},
        "closed_at": _iso(c.closed_at), "close_error": c.close_error or None,
    }


class ExportApi:
    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin  # the KejaksaanExport: config, exporter, start(), services

    def routes(self) -> list[Route]:
        return [
            Route(f"{BASE}/exports", self.list_exports, methods=["GET"]),
            Route(f"{BASE}/exports", self.start_export, methods=["POST"]),
            Route(BASE + "/exports/{name}", self.get_export, methods=["GET"]),
            Route(BASE + "/exports/{name}/files/{path:path}", self.get_file, methods=["GET"]),
            Route(f"{BASE}/cases", self.list_cases, methods=["GET"]),
            Route(BASE + "/cases/{violation_id}", self.get_case, methods=["GET"]),
            Route(BASE + "/cases/{violation_id}/result", self.post_result, methods=["POST"]),
            Route(f"{BASE}/results", self.import_results, methods=["POST"]),
            Route(f"{BASE}/public-key", self.public_key, methods=["GET"]),
            Route(f"{BASE}/page", self.page, methods=["GET"]),
        ]

    # --- who -----------------------------------------------------------------------------------

    def _reader(self, request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role != "admin" and principal.agency != self.plugin.config.prosecutor_agency:
            raise ApiError(403, f"only the users of {self.plugin.config.prosecutor_agency} and admins see the exports")
        return principal

    def _writer(self, request: Request) -> Principal:
        principal = require_role(request, "prosecutor")
        if principal.role != "admin" and principal.agency != self.plugin.config.prosecutor_agency:
            raise ApiError(403, f"only prosecutors of {self.plugin.config.prosecutor_agency} record results and export")
        return principal

    def _visible(self, request: Request, principal: Principal) -> frozenset[str]:
        return data_agencies(principal, request.app.state.services.deployment)

    async def _batch(self, request: Request) -> ExportBatch:
        name = request.path_params["name"]
        batch = await ExportBatch.get_or_none(name=name) if NAME.match(name) else None
        if batch is None:
            raise ApiError(404, f"no batch {name[:40]!r}")
        return batch

    async def _case(self, request: Request, principal: Principal) -> ExportCase:
        raw = request.path_params["violation_id"]
        case = await ExportCase.get_or_none(violation_id=int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if case is None or case.agency not in self._visible(request, principal):
            raise ApiError(404, f"no case for violation {raw[:20]!r}")
        return case

    # --- exports --------------------------------------------------------------------------------

    async def list_exports(self, request: Request) -> Response:
        """Every batch, newest first, with its progress (0..1).
        ---
        responses:
          200: {description: 'the batches', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        self._reader(request)
        batches = await ExportBatch.all().order_by("-id").limit(200)
        waiting = await ExportCase.filter(batch_id=None).count()
        return JSONResponse({"exports": [describe_batch(b) for b in batches], "cases_waiting": waiting,
                             "running": self.plugin.running_batch()})

    async def start_export(self, request: Request) -> Response:
        """Export now: every waiting case in a new batch (or the unfinished one), written in the background.
        ---
        responses:
          202: {description: 'the batch being written; follow its progress at its url', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          200: {description: 'no case waits: no batch', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          503: {description: 'the export target is not writable (the reason)', content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}}
          507: {description: 'the export target is full', content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}}
        """
        principal = self._writer(request)
        try:
            batch = await self.plugin.start("api", principal.username)
        except ExportFailed as exc:
            raise ApiError(exc.status, str(exc)) from None
        if batch is None:
            return JSONResponse({"batch": None, "reason": "no case waits for a batch"})
        await audit.record(principal.username, "kejaksaan.export", batch.name, f"{batch.cases} case(s)")
        return JSONResponse({"batch": describe_batch(batch)}, status_code=202)

    async def get_export(self, request: Request) -> Response:
        """One batch: its progress, its cases and (once complete) its files.
        ---
        responses:
          200: {description: 'the batch', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = self._reader(request)
        batch = await self._batch(request)
        visible = self._visible(request, principal)
        cases = await ExportCase.filter(batch_id=batch.id, agency__in=list(visible)).order_by("violation_id")
        answer = describe_batch(batch)
        answer["case_list"] = [describe_case(c, batch) for c in cases]
        await audit.audit_read(request, "kejaksaan.batch.view", batch.name, f"{len(cases)} case(s)")
        answer["files"] = []
        if batch.state == "complete":
            listed = await asyncio.to_thread(manifest_files, self.plugin.exporter.target / batch.name)
            if listed is None:
                answer["error"] = f"{MANIFEST} of the batch cannot be read"
            else:
                answer["files"] = [{**f, "url": f"{BASE}/exports/{batch.name}/files/{f['path']}"}
                                   for f in [{"path": MANIFEST}, {"path": SIGNATURE}, *listed]]
        return JSONResponse(answer)

    async def get_file(self, request: Request) -> Response:
        """One file of a complete batch, as it was signed.
        ---
        responses:
          200: {description: 'the file', content: {application/octet-stream: {schema: {type: string, format: binary}}}}
        """
        self._reader(request)
        batch = await self._batch(request)
        path = request.path_params["path"]
        folder = self.plugin.exporter.target / batch.name
        if batch.state != "complete":
            raise ApiError(409, f"batch {batch.name} is not complete yet")
        files = await asyncio.to_thread(manifest_files, folder)
        if files is None:
            raise ApiError(404, f"{MANIFEST} of batch {batch.name} cannot be read")
        listed = {f.get("path") for f in files} | {MANIFEST, SIGNATURE}
        inside = (folder / path).resolve().is_relative_to(folder.resolve())
        if path not in listed or not inside or not await asyncio.to_thread((folder / path).is_file):
            raise ApiError(404, f"no file {path[:80]!r} in batch {batch.name}")
        await audit.audit_read(request, "kejaksaan.file.download", f"{batch.name}/{path}")
        return FileResponse(folder / path, filename=Path(path).name)

    # --- cases and results ----------------------------------------------------------------------

    async def list_cases(self, request: Request) -> Response:
        """The cases handed to the prosecutor, newest first (``state``: waiting, sent, decided, closed).
        ---
        parameters:
          - {name: state, in: query, required: false, schema: {type: string, enum: [waiting, sent, decided, closed]}}
        responses:
          200: {description: 'the cases', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = self._reader(request)
        wanted = request.query_params.get("state")
        if wanted is not None and wanted not in ("waiting", "sent", "decided", "closed"):
            raise ApiError(400, "state: one of waiting, sent, decided, closed")
        cases = await ExportCase.filter(agency__in=list(self._visible(request, principal))).order_by("-id").limit(500)
        batches = {b.id: b for b in await ExportBatch.filter(id__in=list({c.batch_id for c in cases if c.batch_id}))}
        out = [c for c in (describe_case(c, batches.get(c.batch_id)) for c in cases)
               if wanted is None or c["state"] == wanted]
        await audit.audit_read(request, "kejaksaan.cases.list", wanted or "all", f"{len(out)} case(s)")
        return JSONResponse({"cases": out})

    async def get_case(self, request: Request) -> Response:
        """One case: its batch, the court's result, whether it closed.
        ---
        responses:
          200: {description: 'the case', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = self._reader(request)
        case = await self._case(request, principal)
        batch = await ExportBatch.get_or_none(id=case.batch_id) if case.batch_id else None
        answer = describe_case(case, batch)
        await audit.audit_read(request, "kejaksaan.case.view", str(case.violation_id), f"plate {answer['plate'] or 'none'}")
        return JSONResponse(answer)

    async def post_result(self, request: Request) -> Response:
        """Record the court's decision and its payment (or the confinement served); a complete result closes the case.
        ---
        requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, required: [fine, court_fee, subsidiary_days, decided_on], properties: {fine: {type: integer, minimum: 0}, court_fee: {type: integer, minimum: 0}, subsidiary_days: {type: integer, minimum: 0}, decided_on: {type: string, format: date}, verdict: {type: string}, paid_amount: {type: integer, minimum: 0}, paid_on: {type: string, format: date}, ntpn: {type: string}, channel: {type: string}, confinement_served: {type: boolean}}}}}}
        responses:
          200: {description: 'the case as recorded (closed once complete)', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = self._writer(request)
        case = await self._case(request, principal)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object")
        if "violation_id" in body:
            raise ApiError(400, "violation_id: given by the path")
        try:
            result = results.parse({**body, "violation_id": case.violation_id})
            await results.record([result], principal.username)
        except results.BadResult as exc:
            raise ApiError(exc.status, str(exc)) from None
        await audit.record(principal.username, "kejaksaan.result", str(case.violation_id), results.describe(result))
        await self.plugin.close_ready()
        case = await ExportCase.get(id=case.id)
        batch = await ExportBatch.get_or_none(id=case.batch_id)
        return JSONResponse(describe_case(case, batch))

    async def import_results(self, request: Request) -> Response:
        """Import the court's results as a CSV (columns in docs/kejaksaan-export.md): all rows or none.
        ---
        requestBody: {content: {text/csv: {schema: {type: string}}}}
        responses:
          200: {description: 'how many results were recorded and cases closed', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = self._writer(request)
        raw = await limited_body(request, MAX_CSV)
        if raw is None:
            raise ApiError(413, f"body: too large (at most {MAX_CSV} bytes)")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(400, "body: not UTF-8 text") from None
        try:
            parsed = results.parse_csv(text)
            visible = self._visible(request, principal)
            hidden = [r.violation_id for r in parsed
                      if not await ExportCase.exists(violation_id=r.violation_id, agency__in=list(visible))]
            if hidden:
                raise results.BadResult(f"violation(s) {', '.join(map(str, hidden[:20]))}: not cases you may see", 400)
            recorded = await results.record(parsed, principal.username)
        except results.BadResult as exc:
            raise ApiError(400 if exc.status == 404 else exc.status, str(exc)) from None
        for r in parsed:
            await audit.record(principal.username, "kejaksaan.result", str(r.violation_id), f"CSV import; {results.describe(r)}")
        closed = await self.plugin.close_ready()
        return JSONResponse({"recorded": len(recorded), "closed": closed})

    async def public_key(self, request: Request) -> Response:
        """The Ed25519 public key (PEM) the batches are signed with: keep it to check batches offline.
        ---
        responses:
          200: {description: 'the public key', content: {application/x-pem-file: {schema: {type: string}}}}
          503: {description: 'the key is not made yet (the plugin has not started)', content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}}
        """
        self._reader(request)
        _, public = signing.key_paths(self.plugin.data_dir)
        try:
            pem = await asyncio.to_thread(public.read_bytes)
        except OSError:
            raise ApiError(503, "the signing key is made at start-up; not there yet") from None
        return Response(pem, media_type="application/x-pem-file",
                        headers={"Content-Disposition": 'attachment; filename="kejaksaan-export.pub"'})

    async def page(self, request: Request) -> Response:
        """The prosecutor's page: exports with their progress, cases, results (web page).
        ---
        responses:
          200: {description: the page, content: {text/html: {schema: {type: string}}}}
        """
        self._reader(request)
        return FileResponse(PAGE, media_type="text/html")
