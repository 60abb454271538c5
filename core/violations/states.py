"""The violation's life: its states, who moves it between them, and which moves are allowed.

::

    detected -> awaiting_review -> verified -> action_taken -> handed_to_sink -> closed
                               \\-> rejected   \\-> warned (education mode)

``detected -> awaiting_review`` and the moves marked *system* are the core's
own; the others are an officer's (or an admin's) through the API.
"""

from __future__ import annotations

from typing import Literal

State = Literal[
    "detected", "awaiting_review", "verified", "rejected", "action_taken", "handed_to_sink", "closed", "warned"
]
STATES: tuple[State, ...] = (
    "detected", "awaiting_review", "verified", "rejected", "action_taken", "handed_to_sink", "closed", "warned"
)

ALLOWED: dict[str, tuple[State, ...]] = {
    "detected": ("awaiting_review", "rejected"),
    "awaiting_review": ("verified", "rejected"),
    "verified": ("action_taken", "warned"),
    "action_taken": ("handed_to_sink",),
    "handed_to_sink": ("closed",),
    "rejected": (),
    "warned": (),
    "closed": (),
}

# the states of a violation an officer has confirmed: these count as offences on the ladder
OFFENCES: tuple[State, ...] = ("verified", "action_taken", "handed_to_sink", "closed", "warned")
OPEN: tuple[State, ...] = ("detected", "awaiting_review", "verified", "action_taken", "handed_to_sink")


def refusal(current: str, wanted: str) -> str | None:
    """``None`` if ``current -> wanted`` is allowed; else the reason, naming the state and the allowed moves."""
    allowed = ALLOWED.get(current, ())
    if wanted in allowed:
        return None
    options = ", ".join(allowed) or "none: it is final"
    return f"the violation is {current}; it cannot become {wanted} (from {current}: {options})"
