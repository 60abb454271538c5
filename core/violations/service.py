"""The violation workflow: create, move between states, edit the plate, choose the ladder step, hand over.

Every change of state is one conditional UPDATE on the version read (of two
officers acting at once, exactly one wins), a row in ``violation_transitions``
in the same database transaction, and then an audit entry. What the sinks get
is an event on the bus (``violation.verified`` or ``violation.warned``) with a
fixed id per violation: publishing it again after a crash stores it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from core.auth import audit
from core.errors import Refused
from core.events.types import Event, Snapshot
from core.violations import evidence
from core.violations.models import PlateEdit, Violation, ViolationTransition
from core.violations.plates import PermissiveValidator, PlateValidator, normalised
from core.violations.settings import EnforcementSettings
from core.violations.states import OFFENCES, OPEN, State, refusal

log = logging.getLogger("bconnect.violations")
SYSTEM = "system"


@dataclass(frozen=True)
class Detection:
    """What a violation is created from: an event's facts, or an officer's manual entry."""

    kind: str
    camera_id: str
    agency: str
    area: str | None
    mode: str
    wall_time: datetime
    zone_id: str | None = None
    snapshot: Snapshot | None = None
    clip_id: str | None = None
    event_id: str | None = None
    plate: str | None = None
    plate_confidence: float | None = None
    vehicle_class: str | None = None


def detection_of(event: Event) -> Detection:
    """An event's facts; the plate and the vehicle class come from its ``detail`` if the rule put them there."""
    detail = event.detail
    plate = detail.get("plate")
    confidence = detail.get("plate_confidence")
    vclass = detail.get("vehicle_class", detail.get("class"))
    return Detection(
        kind=event.kind, camera_id=event.camera_id, agency=event.agency or "", area=event.area,
        mode=event.mode or "education", wall_time=event.wall_time, zone_id=event.zone_id, snapshot=event.snapshot,
        clip_id=event.clip_id, event_id=event.id,
        plate=plate if isinstance(plate, str) else None,
        plate_confidence=float(confidence) if isinstance(confidence, (int, float)) and 0 <= confidence <= 1 else None,
        vehicle_class=vclass[:32] if isinstance(vclass, str) else None,
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


class ViolationService:
    def __init__(
        self,
        settings: EnforcementSettings,
        publish: Callable[[Event], Awaitable[Event]] | None = None,
        validator: PlateValidator | None = None,
        on_validator_error: Callable[[Exception], None] = lambda exc: None,
        data_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir  # where event snapshots lie; None: snapshots are not held (clips still are)
        self.publish = publish  # the event bus, once it runs
        self.validator: PlateValidator = validator or PermissiveValidator()
        self.on_validator_error = on_validator_error  # counts it against the validator's plugin

    def check_plate(self, text: str, vehicle_class: str | None) -> tuple[str, str | None]:
        """``(normalised plate, problem or None)``. A validator that raises is contained: the plate is
        normalised the core's way and the problem says so, so an officer must confirm it."""
        try:
            plate = normalised(self.validator, text)
            problem = self.validator.problem(plate, vehicle_class) if plate else "no letters or digits"
            if problem is not None and not isinstance(problem, str):
                raise TypeError(f"problem() returned {type(problem).__name__}, not a string or None")
            return plate, problem
        except Exception as exc:
            log.warning("plate validator %s failed on %r: %s", self.validator.name, text[:20], exc)
            self.on_validator_error(exc)
            plate = normalised(PermissiveValidator(), text)
            return plate, f"the plate validator failed ({type(exc).__name__}): check the plate"

    # --- creating --------------------------------------------------------------

    def is_violation(self, kind: str) -> bool:
        """Events of the kinds the legal mapping names become violations (never the workflow's own events)."""
        return kind in self.settings.laws and not kind.startswith("violation.")

    async def from_event(self, event: Event) -> Violation | None:
        """The violation of ``event`` (made once per event id), or ``None`` if its kind is not a violation."""
        if not self.is_violation(event.kind):
            return None
        existing = await Violation.get_or_none(event_id=event.id)
        if existing is not None:
            return existing
        return await self.create(detection_of(event), by=SYSTEM)

    async def create(self, found: Detection, by: str) -> Violation:
        plate, problem = None, ""
        if found.plate:
            checked, remark = self.check_plate(found.plate, found.vehicle_class)
            plate, problem = checked or None, remark or ""
        legal = self.settings.laws.get(found.kind)
        at = now()
        async with in_transaction() as conn:
            if found.event_id is not None and await Violation.filter(event_id=found.event_id).using_db(conn).exists():
                return await Violation.get(event_id=found.event_id).using_db(conn)
            v = await Violation.create(
                using_db=conn,
                event_id=found.event_id, kind=found.kind, camera_id=found.camera_id, agency=found.agency,
                area=found.area, zone_id=found.zone_id, mode=found.mode, wall_time=found.wall_time,
                snapshot_path=found.snapshot.path if found.snapshot else None,
                snapshot_sha256=found.snapshot.sha256 if found.snapshot else None, clip_id=found.clip_id,
                plate=plate, plate_confidence=found.plate_confidence if plate else None,
                plate_source=("ocr" if by == SYSTEM else "manual") if plate else None, plate_problem=problem[:200],
                plate_confirmed_by=None if by == SYSTEM or not plate else by,
                vehicle_class=found.vehicle_class, legal=json.dumps(legal.public()) if legal else None,
                state="awaiting_review", version=0, created_by=by, updated_at=at,
            )
            source = f"event {found.event_id}" if found.event_id else "entered by hand"
            await ViolationTransition.create(using_db=conn, violation_id=v.id, from_state=None, to_state="detected",
                                             by=by, at=at, reason=f"{found.kind} on {found.camera_id}, {source}")
            await ViolationTransition.create(using_db=conn, violation_id=v.id, from_state="detected",
                                             to_state="awaiting_review", by=SYSTEM, at=at,
                                             reason="queued for an officer's review")
        what = f"{found.kind} on {found.camera_id} ({found.mode}); {source}"
        await audit.record(by, "violation.create", str(v.id), what)
        await audit.record(SYSTEM, "violation.awaiting_review", str(v.id), "detected -> awaiting_review")
        log.info("violation %s: %s on %s (%s)", v.id, found.kind, found.camera_id, found.mode)
        await self._evidence(v, evidence.hold(v, self.data_dir))
        return v

    async def _evidence(self, v: Violation, change: Awaitable[list[str]]) -> None:
        """Hold or release the violation's evidence (:mod:`core.violations.evidence`); a failure is logged
        and the case goes on (a hold is made again at the next start, :meth:`resume`)."""
        try:
            await change
        except Exception as exc:
            log.warning("violation %s: holding or releasing its evidence failed: %s", v.id, exc)

    # --- moving ------------------------------------------------------------------

    async def move(self, v: Violation, to: State, by: str, reason: str, **changes: Any) -> Violation:
        """``v`` (as read, with its version) to state ``to``; :class:`Refused` (409) if not allowed or if
        someone else changed it since it was read."""
        why = refusal(v.state, to)
        if why:
            raise Refused(409, why)
        at = now()
        async with in_transaction() as conn:
            won = await Violation.filter(id=v.id, version=v.version, state=v.state).using_db(conn).update(
                state=to, version=v.version + 1, updated_at=at, **changes
            )
            if won:
                await ViolationTransition.create(using_db=conn, violation_id=v.id, from_state=v.state, to_state=to,
                                                 by=by, at=at, reason=reason)
        if not won:
            current = await Violation.get(id=v.id)
            last = await ViolationTransition.filter(violation_id=v.id).order_by("-id").first()
            who = f" ({last.by} made it {last.to_state})" if last is not None and last.to_state == current.state else ""
            raise Refused(409, f"violation {v.id} changed meanwhile: it is {current.state} now{who}; reload it")
        await audit.record(by, f"violation.{to}", str(v.id), f"{v.state} -> {to}: {reason}"[:2000])
        moved = await Violation.get(id=v.id)
        if to not in OPEN:
            await self._evidence(moved, evidence.release(moved))
        return moved

    def plate_blocker(self, v: Violation) -> str | None:
        """Why ``v`` cannot be verified yet because of its plate, or ``None``."""
        if not v.plate:
            return "no plate: enter it first (PATCH /api/violations/{id}/plate)"
        if v.plate_confirmed_by:
            return None
        if v.plate_problem:
            return f"the plate {v.plate} failed validation ({v.plate_problem}): an officer must enter or confirm it"
        if v.plate_confidence is None or v.plate_confidence < self.settings.plate_confidence:
            conf = "unknown" if v.plate_confidence is None else f"{v.plate_confidence:.2f}"
            return (f"the plate {v.plate} was read with confidence {conf}, below {self.settings.plate_confidence:.2f}: "
                    "an officer must enter or confirm it")
        return None

    async def earlier_offences(self, v: Violation, window_days: int) -> int:
        if not v.plate:
            return 0
        return await Violation.filter(
            plate=v.plate, state__in=OFFENCES, wall_time__gte=v.wall_time - timedelta(days=window_days),
            wall_time__lte=v.wall_time,
        ).exclude(id=v.id).count()

    async def verify(self, v: Violation, by: str, officer_name: str, note: str) -> Violation:
        blocker = self.plate_blocker(v)
        if v.state == "awaiting_review" and blocker:
            raise Refused(409, f"violation {v.id} cannot be verified: {blocker}")
        ladder = self.settings.ladder_for(v.area)
        count = await self.earlier_offences(v, ladder.window_days)
        step = ladder.step_for(count).name if v.mode == "enforcement" else None
        why = f"verified by {officer_name}; " + (
            f"ladder step {step} ({count} earlier offences in {ladder.window_days} days)" if step
            else "education mode: a warning"
        ) + (f"; {note}" if note else "")
        v = await self.move(v, "verified", by, why, ladder_step=step, offence_count=count, decided_by=by,
                            decided_at=now(), officer_name=officer_name)
        if v.mode != "enforcement":
            v = await self.warn(v)
        return v

    async def warn(self, v: Violation) -> Violation:
        """An education-mode violation ends as a warning; the sinks hear ``violation.warned`` (mode education)."""
        try:
            await self._announce(v, "violation.warned")
        except Exception as exc:  # as in hand_over: finished at the next start
            log.warning("violation %s: warning not published yet: %s", v.id, exc)
            return v
        return await self.move(v, "warned", SYSTEM, "education mode: warned, never ticketed")

    async def reject(self, v: Violation, by: str, reason: str, note: str, officer_name: str) -> Violation:
        if reason not in self.settings.rejection_reasons:
            raise Refused(422, f"reason: {reason[:40]!r} is not one of {', '.join(self.settings.rejection_reasons)}")
        return await self.move(v, "rejected", by, f"{reason}: {note} (by {officer_name})", decided_by=by,
                               decided_at=now(), reject_reason=reason, reject_note=note, officer_name=officer_name)

    async def take_action(self, v: Violation, by: str, note: str) -> Violation:
        """The ladder step was carried out (warning given, sticker placed, tyre deflated, towed); then the
        sinks get it."""
        v = await self.move(v, "action_taken", by, f"{v.ladder_step or 'action'} done" + (f": {note}" if note else ""))
        return await self.hand_over(v)

    async def hand_over(self, v: Violation) -> Violation:
        """Publish ``violation.verified`` (stored by the bus before this returns), then ``handed_to_sink``."""
        try:
            await self._announce(v, "violation.verified")
        except Exception as exc:  # the camera left the deployment, the bus is down: resumed at the next start
            log.warning("violation %s: not handed to the sinks yet: %s", v.id, exc)
            return v
        return await self.move(v, "handed_to_sink", SYSTEM, "published as violation.verified for the sinks")

    async def close(self, v: Violation, by: str, note: str) -> Violation:
        return await self.move(v, "closed", by, note or "closed")

    async def resume(self) -> int:
        """After a crash: hand over what took action but never reached the sinks, warn what was verified in
        education mode. Returns how many it finished."""
        done = 0
        if self.data_dir is not None:
            try:
                recorded = await evidence.record_missing(self.data_dir)
                if recorded:
                    log.info("violations: %d earlier snapshots recorded in the evidence store", recorded)
            except Exception as exc:
                log.warning("violations: recording earlier snapshots as evidence failed: %s", exc)
        for v in await Violation.filter(state__in=OPEN).exclude(snapshot_path__isnull=True, clip_id__isnull=True):
            await self._evidence(v, evidence.hold(v, self.data_dir))  # held already: nothing is written
        for v in await Violation.filter(state="action_taken").order_by("id"):
            done += (await self.hand_over(v)).state == "handed_to_sink"
        for v in await Violation.filter(state="verified", mode="education").order_by("id"):
            done += (await self.warn(v)).state == "warned"
        return done

    async def _announce(self, v: Violation, kind: str) -> None:
        if self.publish is None:
            raise RuntimeError("the event bus is not running")
        event_id = hashlib.sha256(f"violation:{v.id}:{kind}".encode()).hexdigest()[:16]
        snapshot = Snapshot(v.snapshot_path, v.snapshot_sha256) if v.snapshot_path and v.snapshot_sha256 else None
        await self.publish(Event(
            id=event_id, kind=kind, camera_id=v.camera_id, wall_time=v.wall_time, zone_id=v.zone_id,
            snapshot=snapshot, clip_id=v.clip_id, detail=handover_detail(v),
        ))

    async def assign(self, v: Violation, to: str | None, by: str) -> Violation:
        """Who reviews it (``None``: nobody); only while it awaits review."""
        if v.state not in ("detected", "awaiting_review"):
            raise Refused(409, f"violation {v.id} is {v.state}: only a violation awaiting review is assigned")
        won = await Violation.filter(id=v.id, version=v.version).update(
            assigned_to=to, version=v.version + 1, updated_at=now()
        )
        if not won:
            raise Refused(409, f"violation {v.id} changed meanwhile; reload it")
        await audit.record(by, "violation.assign", str(v.id), f"{v.assigned_to or 'nobody'} -> {to or 'nobody'}")
        return await Violation.get(id=v.id)

    # --- the plate ---------------------------------------------------------------

    async def set_plate(self, v: Violation, text: str, by: str, note: str) -> tuple[Violation, str | None]:
        """An officer enters or confirms the plate: it counts as confirmed. Returns the violation and the
        validator's remark (shown, not blocking: the officer has looked at the picture)."""
        plate, remark = self.check_plate(text, v.vehicle_class)
        if not plate:
            raise Refused(422, f"plate: {text[:20]!r} has no letters or digits")
        if v.state not in ("detected", "awaiting_review"):
            raise Refused(409, f"violation {v.id} is {v.state}: its plate can be changed only before it is decided")
        at = now()
        async with in_transaction() as conn:
            won = await Violation.filter(id=v.id, version=v.version, state=v.state).using_db(conn).update(
                plate=plate, plate_source="manual", plate_confirmed_by=by, plate_problem=(remark or "")[:200],
                version=v.version + 1, updated_at=at,
            )
            if won:
                await PlateEdit.create(using_db=conn, violation_id=v.id, old_plate=v.plate, new_plate=plate,
                                       old_confidence=v.plate_confidence, by=by, at=at, note=note)
        if not won:
            raise Refused(409, f"violation {v.id} changed meanwhile; reload it")
        old = f"{v.plate} ({v.plate_source}, confidence {v.plate_confidence})" if v.plate else "none"
        await audit.record(by, "violation.plate", str(v.id), f"plate {old} -> {plate}" + (f"; {note}" if note else ""))
        return await Violation.get(id=v.id), remark


def handover_detail(v: Violation) -> dict[str, Any]:
    """What the sinks get in the event's ``detail``: the violation as decided."""
    return {
        "violation_id": v.id,
        "violation_kind": v.kind,
        "violation_mode": v.mode,
        "source_event": v.event_id,
        "plate": v.plate,
        "plate_source": v.plate_source,
        "plate_confidence": v.plate_confidence,
        "vehicle_class": v.vehicle_class,
        "legal": json.loads(v.legal) if v.legal else None,
        "ladder_step": v.ladder_step,
        "offence_count": v.offence_count,
        "decided_by": v.decided_by,
        "officer_name": v.officer_name,
        "decided_at": v.decided_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        if v.decided_at else None,
    }
