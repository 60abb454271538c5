"""Live view over WebRTC (WHEP, RFC 9725) as a default core plugin.

``POST /api/cameras/{id}/whep`` with an SDP offer answers ``201`` with the SDP
answer and the session's ``Location``; ``DELETE`` there ends the session.
The picture starts from the camera's GOP cache; ``?start=live`` on the POST
waits for the camera's next keyframe instead (for measuring what the cache saves).
Trickle ICE is not offered: the answer carries every candidate, so ``PATCH``
answers ``405``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth.access import camera_agencies, can_see_camera, current_principal, require_role
from core.errors import ApiError
from core.hookspecs import hookimpl
from core.media.transcode import TranscodeHub
from core.media.whep import WhepRefused, WhepService
from core.media.whep_guard import OfferLimits
from core.request_body import limited_body

log = logging.getLogger("bconnect.webrtc")

SDP = "application/sdp"
# ?start= on the POST: "gop" (default) starts from the GOP cache, "live" at the next keyframe
WHEP_STARTS = ("gop", "live")
WHEP_STREAMS = ("main", "sub")
SUB_READY_S = 4.0  # a sub stream opened by this request: wait this long for its first keyframe


class WebRtcPlugin:
    def __init__(self, config, context) -> None:
        self.context = context
        self.services: Any = None
        self.whep: WhepService | None = None

    # --- lifecycle -----------------------------------------------------------

    @hookimpl
    def bconnect_startup(self, services):
        self.services = services
        limits, viewers = services.deployment.server, services.deployment.webrtc
        self.whep = WhepService(
            max_per_camera=limits.max_viewers_per_camera,
            max_total=limits.max_viewers_total,
            max_per_user=viewers.max_sessions_per_user,
            connect_timeout_s=viewers.connect_timeout_s,
            offer_limits=OfferLimits.from_settings(viewers),
            transcodes=services.transcodes or TranscodeHub(),  # the media core's; asked for ``transcoding`` in reports
        )

    @hookimpl
    async def bconnect_shutdown(self, services):
        if self.whep is not None:
            await self.whep.close_all()

    # --- routes --------------------------------------------------------------

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route("/api/cameras/{camera_id}/whep", self.post_offer, methods=["POST"]))
        register(Route("/api/cameras/{camera_id}/whep/{session_id}", self.delete_session, methods=["DELETE"]))
        register(Route("/api/cameras/{camera_id}/whep/{session_id}", self.patch_session, methods=["PATCH"]))
        register(Route("/api/webrtc", self.overview, methods=["GET"]))

    def _service(self) -> WhepService:
        if self.whep is None:
            raise ApiError(503, "WebRTC is not started yet")
        return self.whep

    def _camera(self, request: Request) -> Any:
        principal = current_principal(request)
        camera_id = request.path_params["camera_id"]
        registry = self.services.cameras
        camera = registry.get(camera_id) if registry is not None else None
        if camera is None or not can_see_camera(principal, self.services.deployment, camera.info.agency):
            raise ApiError(404, f"no camera {camera_id!r}")
        return camera

    async def post_offer(self, request: Request) -> Response:
        """Watch a camera (WHEP, RFC 9725); docs/live-view.md.
        ---
        parameters: [{name: start, in: query, schema: {type: string, enum: [gop, live]}}, {name: stream, in: query, schema: {type: string, enum: [main, sub]}}]
        requestBody: {required: true, content: {application/sdp: {schema: {type: string}}}}
        responses:
          201: {description: 'the SDP answer; Location names the session', content: {application/sdp: {schema: {type: string}}}}
          503: {$ref: '#/components/responses/Error', description: 'a viewer limit, or no video yet (Retry-After)'}
        """
        service = self._service()
        camera = self._camera(request)
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != SDP:
            raise ApiError(415, f"WHEP offers must be sent as {SDP}, not {content_type or 'no content type'}")
        limit = service.offer_limits.max_bytes
        body = await limited_body(request, limit)
        if body is None:
            raise ApiError(413, f"SDP offer is larger than {limit} bytes")
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "malformed SDP: not UTF-8 text") from None
        start = request.query_params.get("start", "gop")
        if start not in WHEP_STARTS:
            raise ApiError(400, f"start must be one of {', '.join(WHEP_STARTS)}, not {start!r}")
        stream = request.query_params.get("stream", "main")
        if stream not in WHEP_STREAMS:
            raise ApiError(400, f"stream must be one of {', '.join(WHEP_STREAMS)}, not {stream!r}")
        principal = current_principal(request)
        try:
            service.check_user(principal.username)  # before a sub stream is opened for them
        except WhepRefused as exc:
            raise ApiError(exc.status, exc.reason, exc.headers or None) from None
        if stream == "sub":
            try:
                camera = self.services.cameras.open_sub(camera.info.id)
            except LookupError as exc:
                raise ApiError(400, str(exc)) from None
            await camera.ready(SUB_READY_S)
        try:
            session, answer = await service.open(camera, offer, principal.username, start=start)
        except WhepRefused as exc:
            raise ApiError(exc.status, exc.reason, exc.headers or None) from None
        location = f"/api/cameras/{camera.info.id}/whep/{session.id}"
        return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})

    def _own_session(self, request: Request, service: WhepService) -> str:
        principal = current_principal(request)
        session = service.sessions.get(request.path_params["session_id"])
        if (
            session is None
            or session.camera_id != request.path_params["camera_id"]
            or (session.user != principal.username and principal.role != "admin")
        ):
            raise ApiError(404, "no such WHEP session (already ended?)")
        return session.id

    async def delete_session(self, request: Request) -> Response:
        """End a WHEP session.
        ---
        responses:
          200: {description: 'ended'}
        """
        service = self._service()
        session_id = self._own_session(request, service)
        await service.close(session_id, "deleted by client")
        return Response(status_code=200)

    async def patch_session(self, request: Request) -> Response:
        """Trickle ICE (not supported; always 405).
        ---
        responses:
          405: {$ref: '#/components/responses/Error'}
        """
        self._own_session(request, self._service())
        raise ApiError(
            405,
            "trickle ICE is not supported: the answer already carries all candidates; send a complete offer",
            {"Allow": "DELETE"},
        )

    async def overview(self, request: Request) -> Response:
        """Sessions and transcoders of the cameras the caller may watch; who watches, to admins only.
        ---
        responses:
          200: {description: 'the sessions', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        principal = require_role(request, "operator")
        service = self._service()
        body = service.describe()
        if principal.role == "admin":
            body["list"] = [s.describe() for s in service.sessions.values()]
            return JSONResponse(body)
        agencies = camera_agencies(principal, self.services.deployment)
        registry = self.services.cameras

        def visible(camera_id: str) -> bool:
            camera = registry.get(camera_id) if registry is not None else None
            return camera is not None and camera.info.agency in agencies

        sessions = [s.describe() for s in service.sessions.values() if visible(s.camera_id)]
        for session in sessions:
            del session["user"]
        body["sessions"] = len(sessions)
        body["per_camera"] = {cid: n for cid, n in body["per_camera"].items() if visible(cid)}
        body["transcoding"] = [t for t in body["transcoding"] if visible(t["camera_id"])]
        body["list"] = sessions
        return JSONResponse(body)
