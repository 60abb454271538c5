"""Camera routes: list, detail, snapshot. Never a stream URL, never a credential.

A user sees the cameras of the agencies their deployment's access rules allow
(:func:`core.auth.access.camera_agencies`); a camera outside them answers 404
exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.areas import enforcement_mode
from core.auth.access import camera_agencies, current_principal
from core.config import Deployment
from core.errors import ApiError
from core.media.registry import CameraRegistry, CameraRuntime
from core.media.snapshot import Snapshots, SnapshotUnavailable


def describe(rt: CameraRuntime, deployment: Deployment | None = None) -> dict[str, Any]:
    """The public view of one camera."""
    info = rt.info
    area = deployment.areas.get(info.area) if deployment is not None and info.area else None
    status = rt.status
    stream = rt.mux.stream_info
    return {
        "id": info.id,
        "name": info.name,
        "agency": info.agency,
        "area": info.area,
        "area_name": area.name if area is not None else None,
        # analytics in an area not yet switched on only warn (education), never enforce
        "mode": enforcement_mode(deployment, info.area) if deployment is not None else "education",
        "driver": info.driver,
        "lat": info.lat,
        "lon": info.lon,
        "capabilities": sorted(c.value for c in info.capabilities),
        "presets": len(info.presets),
        "has_sub_stream": info.sub is not None,
        "status": {
            "state": status.state.value,
            "reason": status.reason,
            "since": status.since,
            "last_packet_at": status.last_packet_at,
            "transcoding": status.transcoding,
        },
        "stream": None
        if stream is None
        else {
            "codec": stream.codec,
            "width": stream.width,
            "height": stream.height,
            "fps": stream.fps,
            "profile_level_id": stream.profile_level_id,
        },
    }


class CameraApi:
    """The handlers; holds this app's snapshot cache."""

    def __init__(self) -> None:
        self.snapshots = Snapshots()

    def routes(self) -> list[Route]:
        return [
            Route("/api/cameras", self.list_cameras, methods=["GET"]),
            Route("/api/cameras/{camera_id}", self.get_camera, methods=["GET"]),
            Route("/api/cameras/{camera_id}/snapshot.jpg", self.snapshot, methods=["GET"]),
        ]

    @staticmethod
    def _registry(request: Request) -> CameraRegistry:
        registry = request.app.state.services.cameras
        if registry is None:
            raise ApiError(503, "the media core is not running")
        return registry

    def visible(self, request: Request) -> list[CameraRuntime]:
        """The cameras the request's user may see."""
        principal = current_principal(request)
        agencies = camera_agencies(principal, request.app.state.services.deployment)
        return [rt for rt in self._registry(request).all() if rt.info.agency in agencies]

    def camera(self, request: Request) -> CameraRuntime:
        camera_id = request.path_params["camera_id"]
        rt = self._registry(request).get(camera_id)
        principal = current_principal(request)
        if rt is None or rt.info.agency not in camera_agencies(principal, request.app.state.services.deployment):
            raise ApiError(404, f"unknown camera {camera_id!r}")
        return rt

    async def list_cameras(self, request: Request) -> Response:
        """The cameras the user's agency may see.
        ---
        responses:
          200: {description: 'the cameras', content: {application/json: {schema: {type: array, items: {$ref: '#/components/schemas/Object'}}}}}
        """
        deployment = request.app.state.services.deployment
        return JSONResponse([describe(rt, deployment) for rt in self.visible(request)])

    async def get_camera(self, request: Request) -> Response:
        """One camera, with its state.
        ---
        responses:
          200: {description: 'the camera', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        return JSONResponse(describe(self.camera(request), request.app.state.services.deployment))

    async def snapshot(self, request: Request) -> Response:
        """The camera's latest keyframe as JPEG.
        ---
        responses:
          200: {description: 'the picture', content: {image/jpeg: {schema: {type: string, format: binary}}}}
          503: {$ref: '#/components/responses/Error', description: 'the camera has sent no picture yet'}
        """
        rt = self.camera(request)
        try:
            jpeg = await self.snapshots.jpeg(rt.id, rt.mux)
        except SnapshotUnavailable as exc:
            status = rt.status
            why = f"{status.state.value}: {status.reason}" if status.reason else status.state.value
            raise ApiError(503, f"camera {rt.id!r} has no picture: {exc} (camera {why})") from None
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
