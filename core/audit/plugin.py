"""The audit chain and evidence retention as a core default plugin: jobs and the hold route.

``audit_anchor`` writes the chain's head to the anchors file every
``[audit] anchor_interval_s``; ``evidence_purge`` deletes expired, unheld
evidence every ``[retention] purge_interval_s``.
"""

from __future__ import annotations

from core.audit import anchors
from core.evidence import api as evidence_api
from core.evidence.retention import purge_expired
from core.hookspecs import hookimpl
from core.interfaces import Job


class AuditPlugin:
    def __init__(self, config, context) -> None:
        self.deployment = context.deployment
        self.data_dir = context.data_dir

    async def anchor(self) -> None:
        await anchors.write(self.data_dir)

    async def purge(self) -> None:
        await purge_expired(self.data_dir, self.deployment.retention)

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in evidence_api.routes():
            register(route)

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="audit_anchor", func=self.anchor, seconds=self.deployment.audit.anchor_interval_s))
        register(Job(id="evidence_purge", func=self.purge, seconds=self.deployment.retention.purge_interval_s))
