"""The officers' pages: ``/review`` (the review queue) and ``/dashboard`` (the figures), plain files of web/static.

Served like the grid's page, behind the log-in; a role that may not read
violations gets 403 here as from the API, so the page never loads for it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from core.auth.access import require_role

STATIC = Path(__file__).resolve().parent.parent.parent / "web" / "static"
ACT_ROLES = ("officer",)
READ_ROLES = ("officer", "prosecutor", "supervisor")


async def review_page(request: Request) -> Response:
    """The officers' review queue (web page).
    ---
    responses:
      200: {description: the page, content: {text/html: {schema: {type: string}}}}
    """
    require_role(request, *ACT_ROLES)
    return FileResponse(STATIC / "review.html", media_type="text/html")


async def dashboard_page(request: Request) -> Response:
    """The enforcement dashboard (web page).
    ---
    responses:
      200: {description: the page, content: {text/html: {schema: {type: string}}}}
    """
    require_role(request, *READ_ROLES)
    return FileResponse(STATIC / "dashboard.html", media_type="text/html")


def routes() -> list[Route]:
    return [Route("/review", review_page, methods=["GET"]), Route("/dashboard", dashboard_page, methods=["GET"])]
