"""Run by tests/test_violations_workflow.py in its own process: one of concurrent decisions wins, on PostgreSQL.

``python violations_pg_probe.py DEPLOYMENT.toml``; prints ``postgresql: ok`` or fails an assertion.
"""

from __future__ import annotations

import asyncio
import sys

from support.violations import create, headers

from core.config import load_file
from core.testing.app import running_app
from core.violations.models import Violation, ViolationTransition


async def main(path: str) -> None:
    cfg = load_file(path)
    assert cfg.deployment.database_url().startswith("postgres://")
    async with running_app(cfg) as (app, client):
        a = await headers("ana", "officer", "pemkot")
        b = await headers("budi", "officer", "pemkot")
        service = app.state.services.plugins.pm.get_plugin("core.ViolationsPlugin").api.service
        for _ in range(5):
            v = await create(client, a)
            answers = await asyncio.gather(*(
                client.post(f"/api/violations/{v['id']}/{path}", json=body, headers=h)
                for h, path, body in [(a, "verify", {}), (b, "verify", {}),
                                      (b, "reject", {"reason": "duplicate", "note": "x", "officer_name": "Budi"})]
            ))
            assert sorted(r.status_code for r in answers) == [200, 409, 409], [r.text for r in answers]
            assert await ViolationTransition.filter(violation_id=v["id"], from_state="awaiting_review").count() == 1
            # both read before either writes: the conditional UPDATE decides
            w = await create(client, a)
            first, second = await Violation.get(id=w["id"]), await Violation.get(id=w["id"])
            results = await asyncio.gather(service.verify(first, "ana", "Ana", ""),
                                           service.verify(second, "budi", "Budi", ""), return_exceptions=True)
            assert sum(isinstance(r, Violation) for r in results) == 1, results
            assert (await Violation.get(id=w["id"])).version == 1
    print("postgresql: ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
