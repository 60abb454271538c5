"""Who sees what: agencies' cameras and data per deployment, and role checks.

The deployment's ``[access.<agency>]`` tables say which agencies' cameras and
data the users of an agency see. A user always sees their own agency; an
admin sees every agency the deployment declares in ``[agencies]``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection
from starlette.responses import Response

from core.auth.principal import Principal
from core.config import Deployment
from core.errors import ApiError
from core.interfaces import ROLES


def camera_agencies(principal: Principal, deployment: Deployment) -> frozenset[str]:
    """The agencies whose cameras ``principal`` may watch."""
    if principal.role == "admin":
        return frozenset(deployment.agencies) | {principal.agency}
    rules = deployment.access.get(principal.agency)
    return frozenset(rules.cameras if rules else ()) | {principal.agency}


def data_agencies(principal: Principal, deployment: Deployment) -> frozenset[str]:
    """The agencies whose data (events, evidence, reports) ``principal`` may read."""
    if principal.role == "admin":
        return frozenset(deployment.agencies) | {principal.agency}
    rules = deployment.access.get(principal.agency)
    return frozenset(rules.data if rules else ()) | {principal.agency}


def can_see_camera(principal: Principal, deployment: Deployment, camera_agency: str) -> bool:
    return camera_agency in camera_agencies(principal, deployment)


def can_see_data(principal: Principal, deployment: Deployment, data_agency: str) -> bool:
    return data_agency in data_agencies(principal, deployment)


def current_principal(conn: HTTPConnection) -> Principal:
    """The request's principal; 401 if the middleware let it through without one."""
    user = conn.scope.get("user")
    if not isinstance(user, Principal):
        raise ApiError(401, "authentication required")
    return user


def require_role(conn: HTTPConnection, *roles: str) -> Principal:
    """The principal if its role is one of ``roles`` (admin always is); else 403."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}")
    principal = current_principal(conn)
    if principal.role != "admin" and principal.role not in roles:
        wanted = " or ".join(sorted({*roles, "admin"}))
        raise ApiError(403, f"role {wanted} required; you are {principal.role}")
    return principal


def requires_role(*roles: str) -> Callable[[Callable[..., Awaitable[Response]]], Callable[..., Awaitable[Response]]]:
    """Decorate a handler ``async def h(request)`` with :func:`require_role`."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}")

    def decorate(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def wrapper(request: HTTPConnection, *args, **kwargs) -> Response:
            require_role(request, *roles)
            return await handler(request, *args, **kwargs)

        return wrapper

    return decorate
