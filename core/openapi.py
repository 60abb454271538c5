"""The OpenAPI 3.1 schema of the running app, from the routes themselves.

Each operation is described next to its handler: a YAML block after ``---``
in the handler's docstring (starlette's convention, ``starlette.schemas``); the
summary is the docstring's first line::

    async def zoom(request):
        \"\"\"Zoom to a level (0 wide .. 1 tele).
        ---
        requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Zoom'}}}}
        responses: {200: {description: the PTZ state}}
        \"\"\"

What every operation shares is filled in here, so a block says only what is
its own: the path parameters (strings), the error answers (JSON with a
reason), and the security (a session or a bearer token, except for the
public routes of ``core.auth.middleware``). A route whose handler has no
block is left out of the schema; ``tests/test_openapi.py`` fails on it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.schemas import EndpointInfo, SchemaGenerator

from core.auth.middleware import is_public

_PATH_PARAM = re.compile(r"\{(\w+)\}")

BASE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "B-Connect",
        "version": "1",
        "description": "The HTTP API of a B-Connect server. Errors are JSON: {error: reason, status: code}.",
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a token from `bconnect users token`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "bconnect_session"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "status"],
                "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
            },
            "Object": {"type": "object", "description": "described in the docs linked from the operation"},
        },
        "responses": {
            "Error": {
                "description": "refused, with the reason",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    },
}
AUTHENTICATED = [{"bearer": []}, {"session": []}]


def operation(info: EndpointInfo) -> dict[str, Any] | None:
    """The operation declared in the handler's docstring, ``None`` if it declares none."""
    doc = info.func.__doc__ or ""
    if "---" not in doc:
        return None
    parsed = yaml.safe_load(doc.split("---", 1)[1])
    return parsed if isinstance(parsed, dict) else None


def endpoints(routes: list[BaseRoute]) -> list[EndpointInfo]:
    """Every (path, method, handler) of ``routes``, mounts expanded, ``HEAD`` left out (it mirrors ``GET``)."""
    return SchemaGenerator({}).get_endpoints(routes)


def build_schema(routes: list[BaseRoute]) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    paths: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for info in endpoints(routes):
        op = operation(info)
        if op is None:
            continue
        op = dict(op)
        op.setdefault("summary", (info.func.__doc__ or "").split("---", 1)[0].strip().split("\n", 1)[0].rstrip("."))
        declared = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "path"}
        op["parameters"] = [
            *({"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in _PATH_PARAM.findall(info.path) if name not in declared),
            *op.get("parameters", []),
        ]
        if not op["parameters"]:
            del op["parameters"]
        if "operationId" not in op:  # unique, as generated clients need: two modules' `snapshot` differ by package
            op["operationId"] = f"{info.http_method}_{info.func.__name__}"
            if op["operationId"] in taken:
                op["operationId"] = f"{info.http_method}_{info.func.__module__.rsplit('.', 2)[-2]}_{info.func.__name__}"
        taken.add(op["operationId"])
        responses = op.setdefault("responses", {})
        responses.setdefault("4XX", {"$ref": "#/components/responses/Error"})
        if not is_public(info.http_method.upper(), _concrete(info.path)):
            op.setdefault("security", AUTHENTICATED)
        else:
            op.setdefault("security", [])
        paths.setdefault(info.path, {})[info.http_method] = op
    schema["paths"] = dict(sorted(paths.items()))
    return schema


def _concrete(path: str) -> str:
    return _PATH_PARAM.sub("x", path)


async def openapi_json(request: Request) -> Response:
    """The OpenAPI schema of this server.
    ---
    responses:
      200: {description: the schema (OpenAPI 3.1), content: {application/json: {schema: {type: object}}}}
    """
    app = request.app
    schema = getattr(app.state, "openapi", None)
    if schema is None:
        schema = app.state.openapi = build_schema(app.routes)
    return JSONResponse(schema)
