"""Why a camera's connection failed: one credential-free line, and the state it leaves the camera in."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import av

from core.interfaces import StreamSource
from core.media.bitstream import BitstreamError
from core.media.ingest_settings import IngestSettings
from core.media.packets import CameraState
from core.media.source_url import mask


class StreamFailure(Exception):
    """Why a connection ended; ``state`` is what the camera shows meanwhile."""

    def __init__(self, state: CameraState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


def resolve(url: str) -> None:
    """Fail with a clear reason when the host name does not resolve (FFmpeg says only "I/O error")."""
    host = urlsplit(url).hostname
    if not host:
        raise StreamFailure(CameraState.ERROR, "the URL has no host")
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise StreamFailure(CameraState.OFFLINE, f"cannot resolve host name {host!r}") from None


def classify(exc: BaseException, source: StreamSource, phase: str, settings: IngestSettings) -> StreamFailure:
    """A one-line, credential-free reason and the state it puts the camera in."""
    if isinstance(exc, StreamFailure):
        return exc
    local = "://" not in source.url or source.url.startswith("file://")
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError)):
        if phase == "open":
            why = f"no answer within {settings.open_timeout_s:g} s"
        else:
            why = f"stalled: no packet for {settings.stall_timeout_s:g} s"
        return StreamFailure(CameraState.OFFLINE, why)
    if isinstance(exc, av.error.FFmpegError):
        text = exc.strerror or type(exc).__name__
        if isinstance(exc, av.error.HTTPUnauthorizedError):
            text = "authentication failed (check username and password)"
        elif isinstance(exc, av.error.HTTPForbiddenError):
            text = "access forbidden by the camera"
        elif isinstance(exc, av.error.HTTPNotFoundError):
            text = "stream not found on the camera (check the URL path)"
        elif isinstance(exc, av.error.InvalidDataError):
            text = "not a video stream: invalid data" + (" in the file" if local else " from the server")
            return StreamFailure(CameraState.ERROR, text)
        elif isinstance(exc, av.error.FileNotFoundError):
            return StreamFailure(CameraState.ERROR, "file not found")
        elif isinstance(exc, av.error.EOFError):
            text = "the server closed the stream"
        text = text[:1].lower() + text[1:]
        return StreamFailure(CameraState.OFFLINE, mask(text if phase == "open" else f"stream lost: {text}", source))
    if isinstance(exc, BitstreamError):
        return StreamFailure(CameraState.ERROR, mask(str(exc), source))
    return StreamFailure(CameraState.ERROR, mask(f"{phase}: {type(exc).__name__}: {exc}", source))
