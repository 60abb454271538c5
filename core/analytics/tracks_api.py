"""``GET /api/cameras/{camera_id}/tracks``: what analytics see on a camera now, for the live overlay.

The last analysed frame's tracks (boxes as fractions of the picture, track ids,
labels, how long each has stood still) and the detector's latency, read from
memory: the shared detection and tracking keep only the latest
(:class:`core.analytics.tracking.Sighting`, no pixels). A camera that nothing
analyses answers with no tracks and says why. Anyone who may watch the camera
may read it (no plates, no personal data: boxes only).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.analytics.zones_api import watched_camera


def routes() -> list[Route]:
    return [Route("/api/cameras/{camera_id}/tracks", get_tracks, methods=["GET"])]


async def get_tracks(request: Request) -> Response:
    """The camera's current tracks and the detector's latency, for drawing boxes over the live video.
    ---
    responses:
      200: {description: 'the last analysed frame''s tracks', content: {application/json: {schema: {$ref: '#/components/schemas/Object'}}}}
      404: {description: 'unknown camera, or one the caller may not watch'}
    """
    camera_id, _, _ = watched_camera(request)
    runner = request.app.state.services.analytics
    stage = runner.tracking.get(camera_id) if runner is not None else None
    headers = {"Cache-Control": "private, no-store"}
    if stage is None or stage.latest is None:
        why = "no analyzer watches this camera" if stage is None else "no frame analysed yet"
        if stage is not None and stage.detector is None:
            why = runner.detector_problem or "no detector"
        return JSONResponse({"camera": camera_id, "tracks": [], "reason": why}, headers=headers)
    body = {"camera": camera_id, **stage.latest.to_json(time.time()), "detector": stage.detector.name
            if stage.detector is not None else None}
    return JSONResponse(body, headers=headers)
