"""Plugins' web pages in the top bar: ``bconnect_register_pages`` -> ``GET /api/me`` ``pages`` -> a link.

The Kejaksaan export registers its prosecutor's page; the link goes to the users who may open it
(its prosecutors' agency, admins) and to no one else. A page whose ``visible`` raises is left out and
reported against its plugin; the rest of ``/api/me`` is unaffected.
"""

from __future__ import annotations

import pytest
from support.kejaksaan import KEJAKSAAN_DEPLOYMENT
from support.violations import headers

from core.config import load_file
from core.interfaces import Page
from core.testing.app import running_app

KEJAKSAAN_PAGE = {"path": "/api/kejaksaan_export/page", "title": "Kejaksaan", "plugin": "kejaksaan_export"}


async def test_the_page_link_goes_to_those_who_may_open_it(make_deployment):
    cfg = load_file(make_deployment(KEJAKSAAN_DEPLOYMENT).path)
    async with running_app(cfg) as (app, client):
        for (name, role, agency), shown in (
            (("jaksa", "prosecutor", "kejaksaan"), True),
            (("root", "admin", "dishub"), True),
            (("op", "operator", "dishub"), False),
        ):
            h = await headers(name, role, agency)
            me = (await client.get("/api/me", headers=h)).json()
            assert (KEJAKSAAN_PAGE in me["pages"]) is shown, (name, me["pages"])
            page = await client.get(KEJAKSAAN_PAGE["path"], headers=h)
            assert (page.status_code == 200) is shown  # the page's own check agrees with the link

        def broken(principal):
            raise RuntimeError("visible failed")

        host = app.state.services.plugins
        host.registered["bconnect_register_pages"].append(("kejaksaan_export", Page("/api/x/y", "Broken", broken)))
        h = await headers("jaksa2", "prosecutor", "kejaksaan")
        r = await client.get("/api/me", headers=h)
        assert r.status_code == 200 and r.json()["pages"] == [KEJAKSAAN_PAGE]
        assert "visible failed" in host.states["kejaksaan_export"].last_error


def test_a_page_path_must_be_on_this_server():
    with pytest.raises(ValueError, match="an absolute path on this server"):
        Page("https://elsewhere.example/x", "X")
    with pytest.raises(ValueError, match="an absolute path on this server"):
        Page("//elsewhere.example/x", "X")
    with pytest.raises(ValueError, match="1 to 40 characters"):
        Page("/api/x/page", "")
