"""An ETLE ticket's states and delivery statuses, and the moves between them.

State (the case)::

    awaiting_registration -> letter_pending -> issued -> confirmed -> paid
                                                      -> disputed -> dismissed (dispute upheld)
                                                                  -> issued    (dispute rejected)

``awaiting_registration``: the owner lookup timed out or found nothing; the
reason is shown and the lookup retried. Delivery (the posted letter) is
tracked beside the state once a letter exists: printed, sent, failed,
returned.
"""

from __future__ import annotations

STATES = ("awaiting_registration", "letter_pending", "issued", "confirmed", "disputed", "paid", "dismissed")
ALLOWED: dict[str, tuple[str, ...]] = {
    "awaiting_registration": ("letter_pending",),
    "letter_pending": ("issued",),
    "issued": ("confirmed", "disputed"),
    "disputed": ("dismissed", "issued"),
    "confirmed": ("paid",),
    "paid": (),
    "dismissed": (),
}
FINISHED = ("paid", "dismissed")  # the violation's case is closed

DELIVERY = ("none", "printed", "sent", "failed", "returned")
DELIVERY_ALLOWED: dict[str, tuple[str, ...]] = {
    "none": ("printed",),
    "printed": ("sent", "failed"),
    "failed": ("printed", "sent"),
    "sent": ("returned",),
    "returned": ("printed", "sent"),
}


def refusal(field: str, current: str, to: str) -> str | None:
    """Why ``current`` cannot move to ``to`` (``field`` is state or delivery), or ``None``."""
    allowed = (ALLOWED if field == "state" else DELIVERY_ALLOWED).get(current, ())
    if to in allowed:
        return None
    nxt = ", ".join(allowed) or "nothing (finished)"
    return f"{field} {current} cannot become {to} (allowed next: {nxt})"
