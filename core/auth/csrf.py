"""CSRF check for state-changing requests made with a browser session.

The token comes from the ``X-CSRF-Token`` header or, for HTML forms, the
``csrf_token`` field. Reading a form means reading the body, so the body is
buffered (bounded) and replayed to the app unchanged.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

HEADER = "x-csrf-token"
FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_BYTES = 8 * 1024 * 1024


class CsrfRefused(Exception):
    """The reason goes to the client in a 403."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def check(scope: Scope, receive: Receive, expected: str) -> Receive:
    """Raise :class:`CsrfRefused` or return the ``receive`` the app should use."""
    headers = Headers(scope=scope)
    given = headers.get(HEADER)
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given is None and content_type in FORM_TYPES:
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            raise CsrfRefused("CSRF token missing: send large forms with the X-CSRF-Token header")
        request = Request(scope, _replay(body, receive))
        receive = _replay(body, receive)
        try:
            form = await request.form()
        except Exception:
            raise CsrfRefused("CSRF token missing: the form could not be read") from None
        try:
            value = form.get(FIELD)
            given = value if isinstance(value, str) else None
        finally:
            await form.close()
    if not given:
        raise CsrfRefused("CSRF token missing: send the X-CSRF-Token header or a csrf_token form field")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("CSRF token does not match this session")
    return receive
