"""A stream's URL: its scheme, the URL with credentials, FFmpeg's options, masking.

Credentials are kept apart from the URL (:class:`core.interfaces.StreamSource`);
:func:`url_with_credentials` joins them only inside the ingest thread, and
:func:`mask` removes them from anything that may be logged or shown.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from core.interfaces import StreamSource
from core.media.ingest_settings import IngestSettings

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]*@")


def mask(text: str, source: StreamSource | None = None) -> str:
    """``text`` without any credentials: userinfo in URLs, the source's password."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    if source is not None:
        for secret in (source.password, quote(source.password, safe="") if source.password else None):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
    return text


def url_with_credentials(source: StreamSource) -> str:
    """The URL to open; built only inside the ingest thread, never logged."""
    if not source.username:
        return source.url
    parts = urlsplit(source.url)
    if parts.scheme not in NETWORK_SCHEMES:
        return source.url
    userinfo = quote(source.username, safe="")
    if source.password is not None:
        userinfo += ":" + quote(source.password, safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def scheme_of(url: str) -> str:
    """``rtsp``, ``rtsps``, ``http``, ``https`` or ``file``; ``ValueError`` otherwise."""
    if "://" not in url:
        return "file"
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file" or scheme in NETWORK_SCHEMES:
        return scheme
    raise ValueError(f"unsupported URL scheme {scheme!r}: use rtsp, rtsps, http(s) or a file path")


def open_options(source: StreamSource, settings: IngestSettings) -> dict[str, str]:
    scheme = scheme_of(source.url)
    opts: dict[str, str] = {}
    socket_timeout_us = str(int(settings.stall_timeout_s * 1_000_000))
    if scheme in ("rtsp", "rtsps"):
        opts = {"rtsp_transport": source.transport, "timeout": socket_timeout_us, "allowed_media_types": "video"}
    elif scheme in ("http", "https"):
        opts = {"timeout": socket_timeout_us}
    opts.update(source.options)
    return opts
