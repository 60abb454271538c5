"""Schemathesis hooks for tests/test_openapi.py, loaded through ``SCHEMATHESIS_HOOKS``.

An SDP offer is text; and a 5xx is a failure unless the operation documents it
(a PTZ camera that does not answer is a 502, a camera with no picture yet a
503: the fuzzed deployment's placeholder cameras are never reachable).
"""

from __future__ import annotations

import schemathesis


@schemathesis.serializer("application/sdp")
def sdp_text(ctx, value):
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else str(value)).encode("utf-8", "surrogatepass")


@schemathesis.check
def no_undocumented_server_error(ctx, response, case):
    status = response.status_code
    if status < 500:
        return None
    documented = {str(code) for code in case.operation.definition.raw.get("responses", {})}
    if status != 500 and str(status) in documented:
        return None
    raise AssertionError(f"{status}, which {case.operation.label} does not document: {response.text[:300]}")
