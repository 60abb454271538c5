"""Polri's tables: GPS fixes of mobile units, and the ETLE tickets with their history and block requests."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class UnitFix(Model):
    """The latest position each mobile unit reported (one row per unit)."""

    id = fields.IntField(primary_key=True)
    unit = fields.CharField(max_length=64, unique=True)
    lat = fields.FloatField()
    lon = fields.FloatField()
    fix_time = fields.DatetimeField()  # when the unit measured it
    received_at = fields.DatetimeField()  # when the server got it
    reported_by = fields.CharField(max_length=64)

    class Meta:
        table = "polri_unit_fixes"


class UnitTrack(Model):
    """Every fix a mobile unit reported: where it was when a violation was captured, days before the letter."""

    id = fields.IntField(primary_key=True)
    unit = fields.CharField(max_length=64)
    lat = fields.FloatField()
    lon = fields.FloatField()
    fix_time = fields.DatetimeField()

    class Meta:
        table = "polri_unit_track"
        indexes = (("unit", "fix_time"),)


class Ticket(Model):
    """One ETLE case: a verified violation, its owner lookup, its confirmation letter and what followed."""

    id = fields.IntField(primary_key=True)
    reference = fields.CharField(max_length=48, unique=True)
    event_id = fields.CharField(max_length=32, unique=True)  # the violation.verified event
    violation_id = fields.IntField(unique=True)
    agency = fields.CharField(max_length=32)
    camera_id = fields.CharField(max_length=64)
    place = fields.CharField(max_length=200)  # camera name and area, as printed
    wall_time = fields.DatetimeField()  # the moment of capture
    lat = fields.FloatField(null=True)
    lon = fields.FloatField(null=True)
    position_source = fields.CharField(max_length=16)  # camera (static), gps (mobile unit's fix), unknown
    gps_unit = fields.CharField(max_length=64, null=True)
    gps_time = fields.DatetimeField(null=True)
    plate = fields.CharField(max_length=32)
    vehicle_class = fields.CharField(max_length=32, null=True)
    legal = fields.TextField()  # JSON: law, pasal, ayat, max_fine ...
    snapshot_path = fields.CharField(max_length=200, null=True)
    snapshot_sha256 = fields.CharField(max_length=64, null=True)
    officer_name = fields.CharField(max_length=128, null=True)
    state = fields.CharField(max_length=24)
    waiting_reason = fields.TextField(default="")
    lookup_attempts = fields.IntField(default=0)
    next_try_at = fields.DatetimeField(null=True)
    owner_name = fields.CharField(max_length=200, null=True)
    owner_address = fields.TextField(null=True)
    make = fields.CharField(max_length=64, null=True)
    vehicle_type = fields.CharField(max_length=64, null=True)
    colour = fields.CharField(max_length=64, null=True)
    letter_path = fields.CharField(max_length=200, null=True)  # relative to the data folder
    letter_sha256 = fields.CharField(max_length=64, null=True)
    letter_at = fields.DatetimeField(null=True)
    delivery = fields.CharField(max_length=16, default="none")
    confirmed_as = fields.CharField(max_length=16, null=True)  # owner or driver
    driver_name = fields.CharField(max_length=200, null=True)
    dispute_reason = fields.TextField(null=True)
    payment_ref = fields.CharField(max_length=64, null=True)
    paid_at = fields.DatetimeField(null=True)
    confirm_by = fields.DatetimeField()  # H+8, end of that day in local time
    pay_by = fields.DatetimeField()  # H+15
    violation_closed = fields.BooleanField(default=False)
    erased_at = fields.DatetimeField(null=True)  # owner data and letter erased under the retention rule
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "polri_tickets"


class TicketTransition(Model):
    """Every change of a ticket's state or delivery status: who, when, why."""

    id = fields.IntField(primary_key=True)
    ticket_id = fields.IntField(db_index=True)
    field = fields.CharField(max_length=16)  # state or delivery
    from_value = fields.CharField(max_length=24, null=True)
    to_value = fields.CharField(max_length=24)
    by = fields.CharField(max_length=64)
    at = fields.DatetimeField()
    note = fields.TextField(default="")

    class Meta:
        table = "polri_ticket_transitions"


class BlockRequest(Model):
    """A request to block a vehicle's registration (STNK): at most one per ticket, lifted when paid."""

    id = fields.IntField(primary_key=True)
    ticket_id = fields.IntField(unique=True)
    plate = fields.CharField(max_length=32)
    reason = fields.TextField()
    requested_at = fields.DatetimeField()
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.CharField(max_length=64, null=True)
    lift_note = fields.TextField(default="")

    class Meta:
        table = "polri_block_requests"
