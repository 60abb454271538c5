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


def transcoding_of(services: Any, camera_id: str) -> bool:
    """Whether the camera's video is being transcoded for viewers: the viewing side (the transcode hub) knows."""
    hub = services.transcodes
    return hub is not None and hub.running(camera_id)


def describe(rt: CameraRuntime, deployment: Deployment | None = None, transcoding: bool = False) -> dict[str, Any]:
    """The public view of one camera; ``transcoding`` as :func:`transcoding_of` answers."""
    info = rt.info
    area = deployment.areas.get(info.area) if deployment is not None and info.area else None
    status = rt.status
    stream = rt.mux.stream_info
    return info.public() | {
        "area_name": area.name if area is not None else None,
        # analytics in an area not yet switched on only warn (education), never enforce
        "mode": enforcement_mode(deployment, info.area) if deployment is not None else "education",
        "status": {
            "state": status.state.value,
            "reason": status.reason,
            "since": status.since,
            "last_packet_at": status.last_packet_at,
            "transcoding": transcoding,
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
        services = request.app.state.services
        cameras = self.visible(request)
        return JSONResponse([describe(rt, services.deployment, transcoding_of(services, rt.id)) for rt in cameras])

    async def get_camera(self, request: Request) -> Response:
        """One camera, with its state.
        ---
        responses:
          200: {description: 'the camera', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
        """
        services = request.app.state.services
        rt = self.camera(request)
        return JSONResponse(describe(rt, services.deployment, transcoding_of(services, rt.id)))

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
