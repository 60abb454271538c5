"""The ETLE back office: a verified violation becomes a ticket, its owner is looked up, its letter written.

:class:`TicketDesk` holds every step of a case. Each change is one conditional
UPDATE on the version read (two officers acting at once: one wins, the other
gets a 409 with the reason), a row in ``polri_ticket_transitions`` in the same
transaction, then an audit entry (:func:`core.auth.audit.record`).

Exactly once: a ticket is keyed by its event id and its violation id (both
unique), its reference number is derived from the violation, and its letter is
written under that reference with a temporary file and a rename before the
ticket is marked ``issued``. After a crash anywhere in a letter run the ticket
is still ``letter_pending`` and the letter is written again over the same
name: one file per reference, complete.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.auth import audit
from core.clock import Clock
from core.errors import Refused
from core.events.types import Event
from core.services import ViolationDesk
from plugins.polri_etle import letter as letters
from plugins.polri_etle.models import BlockRequest, Ticket, TicketTransition
from plugins.polri_etle.registry import Registration, VehicleRegistry
from plugins.polri_etle.ticket_config import Ticketing
from plugins.polri_etle.ticket_states import ALLOWED, DELIVERY_ALLOWED, FINISHED, refusal

log = logging.getLogger("bconnect.plugin.polri_etle")
SYSTEM = "polri_etle"


@dataclass(frozen=True)
class Capture:
    """Where a violation was captured: the camera's place, and a position (a mobile unit's GPS fix)."""

    place: str
    lat: float | None
    lon: float | None
    source: str  # camera, gps or unknown
    unit: str | None = None
    gps_time: datetime | None = None


Locate = Callable[[str, datetime], Awaitable[Capture]]


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


class TicketDesk:
    def __init__(self, config: Ticketing, registry: VehicleRegistry, data_dir: Path, clock: Clock, locate: Locate,
                 violations: ViolationDesk | None) -> None:
        self.config = config
        self.registry = registry
        self.data_dir = data_dir
        self.clock = clock
        self.locate = locate
        self.violations = violations
        self.zone = ZoneInfo(config.timezone)
        self._lock = asyncio.Lock()  # one letter run at a time: a retry and a delivery never race
        self._wake = asyncio.Event()  # a delivery made a ticket: the letter worker has work
        self._worker: asyncio.Task | None = None  # one, started by the first delivery
        self._closing = False

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.zone)

    def deadline(self, wall_time: datetime, days: int) -> datetime:
        """The end of the local day ``days`` after the violation's day (H+days), in UTC."""
        day = self.local(wall_time).date() + timedelta(days=days)
        return datetime.combine(day, time(23, 59, 59), self.zone).astimezone(UTC)

    # --- intake ----------------------------------------------------------------------------

    def wants(self, event: Event) -> bool:
        """A verified violation of an ETLE agency's camera in an enforcement area; nothing else."""
        return (event.kind == "violation.verified" and event.mode == "enforcement"
                and event.agency in self.config.agencies and isinstance(event.detail.get("violation_id"), int))

    async def intake(self, event: Event) -> Ticket:
        """The ticket of ``event`` (made once, whatever the repeats); its lookup and letter follow in the background.

        Only the ticket is made while the sink holds the event: the lookup may wait on the registry and the
        letter takes about a second of CPU, longer than a sink may take. The ticket is durable, so a crash
        before its letter is written is finished by :meth:`run_due` (at start-up and by the job).
        """
        ticket = await Ticket.get_or_none(event_id=event.id)
        if ticket is None:
            ticket = await self._create(event)
        if self._worker is None and not self._closing:
            self._worker = asyncio.create_task(self._work(), name="etle-letters")
        self._wake.set()
        return ticket

    async def _work(self) -> None:
        """The one letter worker: whenever deliveries made tickets, take every due one as far as it goes."""
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.run_due()
            except Exception as exc:  # the job retries what waits; a failure must not pass silently
                log.warning("ETLE letter run failed, retried by the job: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:
        """Stop the letter worker after the ticket in hand (a stop must not cut a letter in half)."""
        self._closing = True
        self._wake.set()
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _create(self, event: Event) -> Ticket:
        d = event.detail
        vid = int(d["violation_id"])
        capture = await self.locate(event.camera_id, event.wall_time)
        reference = f"{self.config.reference_prefix}-{self.local(event.wall_time):%Y%m%d}-{vid:06d}"
        at = self.now()
        try:
            async with in_transaction() as conn:
                existing = await Ticket.filter(violation_id=vid).using_db(conn).first()
                if existing is not None:
                    return existing
                t = await Ticket.create(
                    using_db=conn, reference=reference, event_id=event.id, violation_id=vid, agency=event.agency,
                    camera_id=event.camera_id, place=capture.place[:200], wall_time=event.wall_time,
                    lat=capture.lat, lon=capture.lon, position_source=capture.source, gps_unit=capture.unit,
                    gps_time=capture.gps_time, plate=str(d.get("plate") or "")[:32],
                    vehicle_class=d.get("vehicle_class"), legal=json.dumps(d.get("legal") or {}),
                    snapshot_path=event.snapshot.path if event.snapshot else None,
                    snapshot_sha256=event.snapshot.sha256 if event.snapshot else None,
                    officer_name=d.get("officer_name"), state="awaiting_registration",
                    waiting_reason="owner lookup not done yet", confirm_by=self.deadline(event.wall_time,
                                                                                         self.config.confirm_days),
                    pay_by=self.deadline(event.wall_time, self.config.pay_days), created_at=at, updated_at=at,
                )
                await TicketTransition.create(using_db=conn, ticket_id=t.id, field="state", from_value=None,
                                              to_value="awaiting_registration", by=SYSTEM, at=at,
                                              note=f"violation {vid} verified (event {event.id})")
        except IntegrityError:  # the same event or violation, made meanwhile
            return await Ticket.get(violation_id=vid)
        await audit.record(SYSTEM, "etle.ticket.create", t.reference, f"violation {vid}, plate {t.plate}")
        log.info("ETLE ticket %s for violation %s (%s)", t.reference, vid, t.plate)
        return t

    # --- lookup and letter -----------------------------------------------------------------

    async def advance(self, t: Ticket, force: bool = False) -> Ticket:
        """Take ``t`` as far as it goes alone: look the owner up (when due), write the letter."""
        async with self._lock:
            t = await Ticket.get(id=t.id)
            if t.state == "awaiting_registration" and (force or t.next_try_at is None or t.next_try_at <= self.now()):
                t = await self._look_up(t)
            if t.state == "letter_pending":
                try:
                    t = await self._issue(t)
                except Exception as exc:  # a full or read-only disk: the case waits with the reason, retried
                    reason = f"letter not written: {type(exc).__name__}: {exc}"[:500]
                    log.warning("ETLE ticket %s: %s", t.reference, reason)
                    await Ticket.filter(id=t.id).update(waiting_reason=reason, updated_at=self.now())
                    t = await Ticket.get(id=t.id)
            return t

    async def _look_up(self, t: Ticket) -> Ticket:
        timeout = self.config.lookup_timeout_s
        try:
            found: Registration | None = await asyncio.wait_for(self.registry.lookup(t.plate), timeout)
        except TimeoutError:
            return await self._wait(t, f"registry lookup timed out after {timeout:g} s ({self.registry.name} registry)")
        except Exception as exc:  # a connector's failure is a reason to wait, never a lost case
            return await self._wait(t, f"registry unavailable ({self.registry.name}): {exc}"[:500])
        if found is None:
            return await self._wait(t, f"plate {letters.plate_shown(t.plate)} not found in the {self.registry.name} registry")
        return await self.move(t, "state", "letter_pending", SYSTEM, f"owner found in the {self.registry.name} registry",
                               owner_name=found.owner_name[:200], owner_address=found.owner_address,
                               make=found.make[:64], vehicle_type=found.vehicle_type[:64], colour=found.colour[:64],
                               waiting_reason="", next_try_at=None)

    async def _wait(self, t: Ticket, reason: str) -> Ticket:
        retry = self.now() + timedelta(seconds=self.config.retry_s)
        await Ticket.filter(id=t.id).update(waiting_reason=reason, lookup_attempts=t.lookup_attempts + 1,
                                            next_try_at=retry, updated_at=self.now())
        log.warning("ETLE ticket %s waits: %s (retry at %s)", t.reference, reason, iso(retry))
        return await Ticket.get(id=t.id)

    def letter_path(self, t: Ticket) -> str:
        return f"{self.config.letters_dir}/{t.reference}.pdf"

    async def _issue(self, t: Ticket) -> Ticket:
        rel = self.letter_path(t)
        content = self.letter_of(t)
        data = await asyncio.to_thread(letters.render, content, self.config.font_dir)
        await asyncio.to_thread(letters.write_atomic, self.data_dir / rel, data)
        digest = hashlib.sha256(data).hexdigest()
        return await self.move(t, "state", "issued", SYSTEM, f"letter written ({len(data)} bytes, sha256 {digest})",
                               letter_path=rel, letter_sha256=digest, letter_at=self.now(), waiting_reason="")

    def letter_of(self, t: Ticket) -> letters.Letter:
        legal: dict[str, Any] = json.loads(t.legal or "{}")
        label = self.config.timezone_label
        law = legal.get("law") or "-"
        if legal.get("pasal"):
            law += f", Pasal {legal['pasal']}" + (f" ayat ({legal['ayat']})" if legal.get("ayat") else "")
        if t.position_source == "gps":
            position = (f"{t.lat:.5f}, {t.lon:.5f} (GPS unit {t.gps_unit}, "
                        f"{self.local(t.gps_time):%H:%M:%S} {label})")
        elif t.lat is not None and t.lon is not None:
            position = f"{t.lat:.5f}, {t.lon:.5f} (lokasi kamera)"
        else:
            position = "tidak tercatat (unit mobile tanpa posisi GPS pada saat itu)"
        snapshot = self.data_dir / t.snapshot_path if t.snapshot_path else None
        return letters.Letter(
            reference=t.reference, issuer=self.config.issuer, issued=letters.date_id(self.local(self.now())),
            owner_name=t.owner_name or "-", owner_address=t.owner_address or "-", plate=t.plate,
            make=t.make or "-", vehicle_type=t.vehicle_type or "-", colour=t.colour or "-",
            vehicle_class=t.vehicle_class, when=letters.time_id(self.local(t.wall_time), label), place=t.place,
            position=position, violation=str(legal.get("text") or "-"), law=law,
            max_fine=letters.rupiah(legal.get("max_fine")), max_jail=legal.get("max_jail"),
            snapshot=snapshot if snapshot is not None and snapshot.is_file() else None,
            snapshot_sha256=t.snapshot_sha256,
            confirm_by=letters.date_id(self.local(t.confirm_by)) + f" pukul 23:59 {label}",
            pay_by=letters.date_id(self.local(t.pay_by)) + f" pukul 23:59 {label}",
            confirm_at=self.config.confirm_at, office=self.config.office, officer_name=t.officer_name,
        )

    async def run_due(self) -> int:
        """Retry what waits: lookups whose time has come, letters a crash or a full disk left unwritten."""
        done = 0
        due = await Ticket.filter(state__in=("awaiting_registration", "letter_pending")).order_by("id")
        for t in due:
            if self._closing:
                break
            done += (await self.advance(t)).state == "issued"
        return done

    # --- moves -----------------------------------------------------------------------------

    async def move(self, t: Ticket, field: str, to: str, by: str, note: str, **changes: Any) -> Ticket:
        """``t`` (as read) to ``to`` in ``field`` (state or delivery); :class:`Refused` 409 with the reason."""
        current = getattr(t, field)
        why = refusal(field, current, to)
        if why:
            raise Refused(409, f"ticket {t.reference}: {why}")
        at = self.now()
        async with in_transaction() as conn:
            won = await Ticket.filter(id=t.id, version=t.version).using_db(conn).update(
                **{field: to}, version=t.version + 1, updated_at=at, **changes)
            if won:
                await TicketTransition.create(using_db=conn, ticket_id=t.id, field=field, from_value=current,
                                              to_value=to, by=by, at=at, note=note[:2000])
        if not won:
            now = await Ticket.get(id=t.id)
            raise Refused(409, f"ticket {t.reference} changed meanwhile: it is {now.state}, delivery {now.delivery}; "
                               "reload it")
        await audit.record(by, f"etle.{field}.{to}", t.reference, f"{current} -> {to}: {note}"[:2000])
        return await Ticket.get(id=t.id)

    async def set_delivery(self, t: Ticket, status: str, by: str, note: str) -> Ticket:
        if t.letter_path is None:
            raise Refused(409, f"ticket {t.reference} has no letter yet ({t.state}): nothing to deliver")
        return await self.move(t, "delivery", status, by, note or status)

    async def confirm(self, t: Ticket, as_: str, driver_name: str, by: str, note: str) -> Ticket:
        if as_ == "driver" and not driver_name:
            raise Refused(422, "driver_name: required when the driver confirms")
        who = "the owner" if as_ == "owner" else f"driver {driver_name}"
        return await self.move(t, "state", "confirmed", by, f"confirmed by {who}" + (f"; {note}" if note else ""),
                               confirmed_as=as_, driver_name=driver_name or None)

    async def dispute(self, t: Ticket, reason: str, by: str) -> Ticket:
        return await self.move(t, "state", "disputed", by, f"disputed: {reason}", dispute_reason=reason)

    async def decide_dispute(self, t: Ticket, upheld: bool, by: str, note: str) -> Ticket:
        if t.state != "disputed":
            raise Refused(409, f"ticket {t.reference} is {t.state}: only a disputed ticket is decided")
        if not upheld:
            return await self.move(t, "state", "issued", by, f"dispute rejected: {note}")
        t = await self.move(t, "state", "dismissed", by, f"dispute upheld: {note}")
        await self.lift_block(t, by, f"dispute upheld: {note}"[:500])
        return await self.close_violation(t, by, f"ETLE {t.reference}: dispute upheld: {note}")

    async def pay(self, t: Ticket, reference: str, by: str, note: str) -> Ticket:
        t = await self.move(t, "state", "paid", by, f"paid, payment {reference}" + (f"; {note}" if note else ""),
                            payment_ref=reference, paid_at=self.now())
        await self.lift_block(t, by, f"paid ({reference})")
        return await self.close_violation(t, by, f"ETLE {t.reference}: paid ({reference})")

    async def lift_block(self, t: Ticket, by: str, why: str) -> None:
        """Lift the ticket's registration block, if one is active (paid, or the case dismissed)."""
        lifted = await BlockRequest.filter(ticket_id=t.id, lifted_at=None).update(
            lifted_at=self.now(), lifted_by=by, lift_note=why)
        if lifted:
            await audit.record(by, "etle.block.lift", t.reference, f"registration block of {t.plate} lifted: {why}")

    async def close_violation(self, t: Ticket, by: str, note: str) -> Ticket:
        """Close the violation's case; a failure is retried by the deadline job."""
        if self.violations is None or t.violation_closed:
            return t
        try:
            await self.violations.close(t.violation_id, by, note)
        except Exception as exc:
            current = await self.violations.get(t.violation_id)
            if current is None or current.get("state") != "closed":
                log.warning("ETLE ticket %s: violation %s not closed yet: %s", t.reference, t.violation_id, exc)
                return t
        await Ticket.filter(id=t.id).update(violation_closed=True)
        return await Ticket.get(id=t.id)

    # --- deadlines -------------------------------------------------------------------------

    async def check_deadlines(self) -> int:
        """Unconfirmed at H+8 or unpaid at H+15: a registration-block request, at most one per ticket (run it as
        often as you like, across any clock jump). Returns how many were made."""
        now = self.now()
        made = 0
        overdue = [(t, f"unconfirmed at H+{self.config.confirm_days}")
                   for t in await Ticket.filter(state="issued", confirm_by__lt=now)]
        overdue += [(t, f"unpaid at H+{self.config.pay_days}")
                    for t in await Ticket.filter(state="confirmed", pay_by__lt=now)]
        for t, why in overdue:
            due = t.confirm_by if why.startswith("unconfirmed") else t.pay_by
            reason = f"{why} (deadline {letters.time_id(self.local(due), self.config.timezone_label)})"
            try:
                _, created = await BlockRequest.get_or_create(
                    ticket_id=t.id, defaults={"plate": t.plate, "reason": reason, "requested_at": now})
            except IntegrityError:  # made by another run meanwhile
                created = False
            if created:
                made += 1
                await audit.record(SYSTEM, "etle.block.request", t.reference, f"{t.plate}: {reason}")
                log.info("ETLE ticket %s: registration block requested: %s", t.reference, reason)
        for t in await Ticket.filter(state__in=FINISHED, violation_closed=False):  # a crash cut a payment short
            await self.lift_block(t, SYSTEM, t.state)
            await self.close_violation(t, SYSTEM, f"ETLE {t.reference}: {t.state}")
        return made

    # --- retention -------------------------------------------------------------------------

    async def erase_ended(self) -> int:
        """Erase the personal data of cases ended (paid or dismissed) more than ``personal_data_days`` ago:
        owner name and address, driver name, dispute text, and the letter's file. The ticket stays, with its
        plate (the violation keeps it too), its history and the letter's SHA-256, so the record still proves
        what was sent. Each erasure is audited. Returns how many tickets were erased."""
        days = self.config.personal_data_days
        cutoff = self.now() - timedelta(days=days)
        erased = 0
        for t in await Ticket.filter(state__in=FINISHED, erased_at=None, updated_at__lt=cutoff).order_by("id"):
            if self._closing:
                break
            if t.letter_path:
                await asyncio.to_thread((self.data_dir / t.letter_path).unlink, True)
            won = await Ticket.filter(id=t.id, version=t.version).update(
                owner_name=None, owner_address=None, driver_name=None, dispute_reason=None, letter_path=None,
                erased_at=self.now(), version=t.version + 1)
            if not won:  # changed meanwhile: the next run looks again
                continue
            erased += 1
            await audit.record(SYSTEM, "etle.personal_data.erase", t.reference,
                               f"owner data and letter erased {days} days after the case ended ({t.state})")
        return erased

    # --- reading ---------------------------------------------------------------------------

    async def describe(self, t: Ticket, history: bool = False) -> dict[str, Any]:
        block = await BlockRequest.get_or_none(ticket_id=t.id)
        answer: dict[str, Any] = {
            "id": t.id, "reference": t.reference, "violation": t.violation_id, "event": t.event_id,
            "agency": t.agency, "camera": t.camera_id, "place": t.place, "wall_time": iso(t.wall_time),
            "position": {"lat": t.lat, "lon": t.lon, "source": t.position_source, "unit": t.gps_unit,
                         "fix_time": iso(t.gps_time)},
            "plate": t.plate, "vehicle_class": t.vehicle_class, "legal": json.loads(t.legal or "{}"),
            "state": t.state, "allowed": list(ALLOWED.get(t.state, ())), "waiting_reason": t.waiting_reason or None,
            "lookup_attempts": t.lookup_attempts, "next_try_at": iso(t.next_try_at),
            "owner": {"name": t.owner_name, "address": t.owner_address} if t.owner_name else None,
            "vehicle": {"make": t.make, "type": t.vehicle_type, "colour": t.colour} if t.make else None,
            "letter": {"url": f"/api/polri_etle/tickets/{t.id}/letter", "sha256": t.letter_sha256,
                       "written_at": iso(t.letter_at)} if t.letter_path else None,
            "delivery": t.delivery, "delivery_allowed": list(DELIVERY_ALLOWED.get(t.delivery, ())) if t.letter_path else [],
            "confirmed_as": t.confirmed_as, "driver_name": t.driver_name, "dispute_reason": t.dispute_reason,
            "payment_ref": t.payment_ref, "paid_at": iso(t.paid_at), "confirm_by": iso(t.confirm_by),
            "pay_by": iso(t.pay_by), "violation_closed": t.violation_closed, "version": t.version,
            "block": block_public(block) if block else None, "erased_at": iso(t.erased_at),
        }
        if history:
            answer["transitions"] = [
                {"field": m.field, "from": m.from_value, "to": m.to_value, "by": m.by, "at": iso(m.at), "note": m.note}
                for m in await TicketTransition.filter(ticket_id=t.id).order_by("id")
            ]
        return answer


def block_public(b: BlockRequest) -> dict[str, Any]:
    return {"id": b.id, "ticket": b.ticket_id, "plate": b.plate, "reason": b.reason, "requested_at": iso(b.requested_at),
            "active": b.lifted_at is None, "lifted_at": iso(b.lifted_at), "lifted_by": b.lifted_by,
            "lift_note": b.lift_note or None}
