"""The append-only audit trail: who did what to what, and when.

There is deliberately no function here to change or remove an entry. Every
entry is hash-chained to the one before (``core.audit.chain``), so a change
made behind B-Connect's back is found by ``bconnect audit verify``.

Every read of personal data (plates, owners, evidence) goes through
:func:`audit_read`, so that a new route cannot read it unlogged by accident.
"""

from __future__ import annotations

from starlette.requests import Request

from core.audit import chain
from core.auth.access import current_principal
from core.models import AuditEntry


async def record(actor: str, action: str, target: str = "", detail: str = "", *, address: str = "") -> AuditEntry:
    """Append one entry to the chain. Never pass a password or a token in ``detail``."""
    return await chain.append(actor, action, target, detail, address)


async def audit_read(request: Request, action: str, target: str, detail: str = "") -> AuditEntry:
    """Record that the request's user read personal data: ``action`` names what (``clip.download``,
    ``violation.view`` ...), ``target`` which one; the client address comes from the request."""
    who = current_principal(request).username
    address = request.client.host if request.client else ""
    return await record(who, action, target, detail, address=address)


async def entries(limit: int = 100, action: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    query = AuditEntry.all()
    if action is not None:
        query = query.filter(action=action)
    return await query.order_by("-id").limit(limit)
