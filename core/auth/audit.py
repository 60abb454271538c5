"""The append-only audit trail: who did what to what, and when.

There is deliberately no function here to change or remove an entry.
"""

from __future__ import annotations

from core.models import AuditEntry


def _clip(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 1] + "…"


async def record(actor: str, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Append one entry. Never pass a password or a token in ``detail``."""
    return await AuditEntry.create(
        actor=_clip(actor, 128), action=_clip(action, 64), target=_clip(target, 128), detail=_clip(detail, 2000)
    )


async def entries(limit: int = 100, action: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    query = AuditEntry.all()
    if action is not None:
        query = query.filter(action=action)
    return await query.order_by("-id").limit(limit)
