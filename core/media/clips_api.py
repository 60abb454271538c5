"""Evidence clip routes: cut a clip of a camera, follow it, download it, list a camera's clips.

=====================================  ==============================================================
``POST /api/cameras/{id}/clips``       cut ``{"pre_s", "post_s", "note"}``: ``202`` and a ``Location``
``GET  /api/cameras/{id}/clips``       the camera's clips, newest first (``?limit=&offset=``)
``GET  /api/clips/{clip_id}``          one clip: status, who and when, duration, frames, size, hash
``GET  /api/clips/{clip_id}/file``     the MP4 (ranges supported), its SHA-256 in ``Repr-Digest``
=====================================  ==============================================================

Whoever may watch a camera sees its clips; an invisible camera or clip
answers 404 exactly like an unknown one. Cutting needs the role operator or
officer (admins always). Every cut, and every answer that carries bytes of a
clip (whole, or one range: ``core.media.byte_ranges``), goes into the audit
log. A malformed body is ``400``, a value out of bounds ``422``, each with
the reason.
"""

from __future__ import annotations

import asyncio
import base64
import math
from datetime import timedelta
from pathlib import Path
from stat import S_ISREG
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from core.auth import audit
from core.auth.access import camera_agencies, current_principal, require_role
from core.errors import ApiError
from core.media.byte_ranges import RangeNotSatisfiable, choose_span
from core.media.clip_jobs import CLIP_ID, FAILED, PENDING, ClipJobs, ClipsBusy
from core.media.registry import CameraRuntime
from core.models import EvidenceClip
from core.request_body import read_object

CUT_ROLES = ("operator", "officer")
MAX_POST_S = 60.0
DEFAULT_PRE_S = 10.0
DEFAULT_POST_S = 10.0
MAX_NOTE = 500
PAGE_DEFAULT, PAGE_MAX, MAX_OFFSET = 50, 200, 1_000_000


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe(row: EvidenceClip) -> dict[str, Any]:
    """The public view of one clip."""
    ended = None
    if row.started_at is not None and row.duration_s is not None:
        ended = row.started_at + timedelta(seconds=row.duration_s)
    return {
        "id": row.id,
        "camera": row.camera_id,
        "agency": row.agency,
        "status": row.status,
        "reason": row.reason or None,
        "created_by": row.created_by,
        "note": row.note,
        "requested": {"pre_s": row.pre_s, "post_s": row.post_s},
        "created_at": _iso(row.created_at),
        "finished_at": _iso(row.finished_at),
        "started_at": _iso(row.started_at),  # the first frame
        "ended_at": _iso(ended),
        "duration_s": row.duration_s,
        "frames": row.frames,
        "size": row.size,
        "sha256": row.sha256,
        "codec": row.codec,
        "width": row.width,
        "height": row.height,
        "file": f"/api/clips/{row.id}/file" if row.status == "ready" else None,
        "held": row.held,  # evidence of an open case: never purged by retention
    }


# --- reading requests -------------------------------------------------------------


def _number(body: dict[str, Any], key: str, default: float, high: float) -> float:
    if key not in body:
        return default
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"{key}: expected a number of seconds")
    if not 0 <= value <= high:
        raise ApiError(422, f"{key}: {value:g} is outside 0..{high:g} s")
    return float(value)


def _query_int(request: Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{key}: expected an integer, not {raw[:20]!r}") from None
    if not low <= value <= high:
        raise ApiError(422, f"{key}: {value} is outside {low}..{high}")
    return value


async def _cut_request(request: Request, ring_s: float, max_total_s: float) -> tuple[float, float, str]:
    body = await read_object(request, ("pre_s", "post_s", "note"))
    pre_s = _number(body, "pre_s", min(DEFAULT_PRE_S, ring_s), ring_s)
    post_s = _number(body, "post_s", DEFAULT_POST_S, MAX_POST_S)
    if pre_s + post_s > max_total_s:
        raise ApiError(422, f"pre_s + post_s: {pre_s + post_s:g} s is more than {max_total_s:g} s")
    note = body.get("note", "")
    if not isinstance(note, str):
        raise ApiError(400, "note: expected a string")
    if len(note) > MAX_NOTE:
        raise ApiError(422, f"note: {len(note)} characters, at most {MAX_NOTE}")
    return pre_s, post_s, note


# --- the routes ----------------------------------------------------------------


class ClipsApi:
    """The handlers; ``jobs`` is set once the media core has started."""

    def __init__(self) -> None:
        self.jobs: ClipJobs | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/api/cameras/{camera_id}/clips", self.cut, methods=["POST"]),
            Route("/api/cameras/{camera_id}/clips", self.list_clips, methods=["GET"]),
            Route("/api/clips/{clip_id}", self.get_clip, methods=["GET"]),
            Route("/api/clips/{clip_id}/file", self.download, methods=["GET"]),
        ]

    def _jobs(self) -> ClipJobs:
        if self.jobs is None:
            raise ApiError(503, "the media core is not running")
        return self.jobs

    def _camera(self, request: Request) -> CameraRuntime:
        camera_id = request.path_params["camera_id"]
        services = request.app.state.services
        rt = services.cameras.get(camera_id) if services.cameras is not None else None
        agencies = camera_agencies(current_principal(request), services.deployment)
        if rt is None or rt.info.agency not in agencies:
            raise ApiError(404, f"unknown camera {camera_id!r}")
        return rt

    async def _clip(self, request: Request) -> EvidenceClip:
        clip_id = request.path_params["clip_id"]
        agencies = camera_agencies(current_principal(request), request.app.state.services.deployment)
        row = await EvidenceClip.get_or_none(id=clip_id) if CLIP_ID.match(clip_id) else None
        if row is None or row.agency not in agencies:
            raise ApiError(404, f"unknown clip {clip_id[:40]!r}")
        return row

    async def cut(self, request: Request) -> Response:
        """Cut an evidence clip around now (docs/clips.md).
        ---
        requestBody: {content: {application/json: {schema: {type: object, additionalProperties: false, properties: {pre_s: {type: number, minimum: 0}, post_s: {type: number, minimum: 0}, note: {type: string}}}}}}
        responses:
          202: {description: 'the clip job; Location names it', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
          503: {$ref: '#/components/responses/Error', description: 'the camera has no video to cut'}
        """
        rt = self._camera(request)
        who = require_role(request, *CUT_ROLES)
        jobs = self._jobs()
        pre_s, post_s, note = await _cut_request(request, rt.mux.ring_seconds, jobs.writer.max_seconds)
        if rt.mux.last_keyframe() is None:
            state = rt.status
            why = f"{state.state.value}: {state.reason}" if state.reason else state.state.value
            raise ApiError(503, f"camera {rt.id!r} has sent no video yet (camera {why})")
        try:
            row = await jobs.submit(
                rt.id, agency=rt.info.agency, created_by=who.username, note=note, pre_s=pre_s, post_s=post_s
            )
        except ClipsBusy as exc:
            raise ApiError(503, str(exc), headers={"Retry-After": "5"}) from None
        detail = f"camera {rt.id}, pre_s {pre_s:g}, post_s {post_s:g}" + (f"; note: {note}" if note else "")
        await audit.record(who.username, "clip.cut", row.id, detail)
        location = f"/api/clips/{row.id}"
        headers = {"Location": location, "Retry-After": str(math.ceil(post_s) + 1)}
        return JSONResponse(describe(row), status_code=202, headers=headers)

    async def list_clips(self, request: Request) -> Response:
        """A camera's clips, newest first.
        ---
        parameters: [{name: limit, in: query, schema: {type: integer, minimum: 1}}, {name: offset, in: query, schema: {type: integer, minimum: 0}}]
        responses:
          200: {description: 'a page of clips', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        rt = self._camera(request)
        limit = _query_int(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
        offset = _query_int(request, "offset", 0, 0, MAX_OFFSET)
        agencies = camera_agencies(current_principal(request), request.app.state.services.deployment)
        # clips cut while the camera belonged to another agency stay with that agency
        query = EvidenceClip.filter(camera_id=rt.id, agency__in=sorted(agencies))
        total = await query.count()
        rows = await query.order_by("-created_at", "-id").offset(offset).limit(limit)
        body = {"camera": rt.id, "total": total, "limit": limit, "offset": offset, "clips": [describe(r) for r in rows]}
        return JSONResponse(body)

    async def get_clip(self, request: Request) -> Response:
        """A clip's status and SHA-256.
        ---
        responses:
          200: {description: 'the clip', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        return JSONResponse(describe(await self._clip(request)))

    async def download(self, request: Request) -> Response:
        """The clip's MP4 (Range allowed; every download is audited).
        ---
        responses:
          200: {description: 'the file', content: {video/mp4: {schema: {type: string, format: binary}}}}
          206: {description: 'a range of the file'}
        """
        row = await self._clip(request)
        if row.status == PENDING:
            reason = f"clip {row.id} is still being cut; try again in a few seconds"
            raise ApiError(409, reason, headers={"Retry-After": "2"})
        if row.status == FAILED:
            raise ApiError(409, f"clip {row.id} failed: {row.reason}")
        path = self._jobs().directory / row.file
        try:
            stat_result = await asyncio.to_thread(path.stat)
        except OSError:
            stat_result = None
        if stat_result is None or not S_ISREG(stat_result.st_mode):
            raise ApiError(410, f"the file of clip {row.id} is no longer in storage")
        etag = f'"{row.sha256}"'
        size = stat_result.st_size
        try:
            span = choose_span(request.headers.get("range"), request.headers.get("if-range"), etag, size)
        except RangeNotSatisfiable as exc:
            raise ApiError(416, str(exc), headers={"Content-Range": f"bytes */{exc.size}"}) from None
        if request.method == "GET":  # every answer with evidence bytes, whole or in part; HEAD sends none
            part = f"bytes {span[0]}-{span[1] - 1} of {size}" if span else f"whole file, {size} bytes"
            await audit.audit_read(request, "clip.download", row.id, f"camera {row.camera_id}, {part}")
        digest = base64.b64encode(bytes.fromhex(row.sha256 or "")).decode()
        headers = {
            "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530: of the whole file, also in a 206
            "ETag": etag,
            "Cache-Control": "private, no-store",
        }
        return SpanResponse(
            path, span, stat_result=stat_result, media_type="video/mp4", filename=row.file, headers=headers
        )


class SpanResponse(FileResponse):
    """Serves exactly the span the handler chose and audited: starlette's own reading of ``Range`` never runs."""

    def __init__(self, path: Path, span: tuple[int, int] | None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.span = span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        if self.span is not None:
            headers.append((b"range", f"bytes={self.span[0]}-{self.span[1] - 1}".encode()))
        await super().__call__({**scope, "headers": headers}, receive, send)
