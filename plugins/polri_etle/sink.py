"""The ETLE sink: verified violations of an ETLE agency's cameras in enforcement areas become tickets.

The outbox offers every event at least once, in order. Everything else
returns at once (returning is accepting); education-mode events never get a
letter. A repeat of an event finds its ticket (unique by event id and
violation id): one ticket, one letter.
"""

from __future__ import annotations

from core.events.types import Event
from plugins.polri_etle.tickets import TicketDesk


class EtleSink:
    name = "etle_tickets"

    def __init__(self) -> None:
        self.desk: TicketDesk | None = None  # set at start-up
        self.enabled = True

    async def deliver(self, event: Event) -> None:
        if not self.enabled or event.kind != "violation.verified":
            return
        if self.desk is None:
            raise RuntimeError("ETLE ticketing is starting")  # the outbox offers it again
        if self.desk.wants(event):
            await self.desk.intake(event)
