"""The violations tables: one row per violation, its transitions, and its plate edits.

``violations.version`` grows by one with every change of state or plate: a
change is one conditional UPDATE on the version it read, so of two officers
acting at the same moment exactly one wins. Transitions and plate edits are
only ever inserted.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Violation(Model):
    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=16, null=True, unique=True)  # the event it came from; None: entered by hand
    kind = fields.CharField(max_length=98, db_index=True)
    camera_id = fields.CharField(max_length=64)
    agency = fields.CharField(max_length=16, db_index=True)  # the camera's: decides who may see and act
    area = fields.CharField(max_length=64, null=True)
    zone_id = fields.CharField(max_length=64, null=True)
    mode = fields.CharField(max_length=12)  # the area's mode when it was detected
    wall_time = fields.DatetimeField(db_index=True)
    snapshot_path = fields.CharField(max_length=128, null=True)
    snapshot_sha256 = fields.CharField(max_length=64, null=True)
    clip_id = fields.CharField(max_length=16, null=True)
    plate = fields.CharField(max_length=16, null=True, db_index=True)  # normalised: upper case, no spaces
    plate_confidence = fields.FloatField(null=True)
    plate_source = fields.CharField(max_length=8, null=True)  # ocr or manual
    plate_problem = fields.CharField(max_length=200, default="")  # why the validator refused it
    plate_confirmed_by = fields.CharField(max_length=64, null=True)
    vehicle_class = fields.CharField(max_length=32, null=True)
    legal = fields.TextField(null=True)  # JSON: the legal basis as configured when it was created
    state = fields.CharField(max_length=16, db_index=True)
    ladder_step = fields.CharField(max_length=32, null=True)
    offence_count = fields.IntField(null=True)  # earlier verified offences of the plate within the window
    version = fields.IntField(default=0)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField()
    assigned_to = fields.CharField(max_length=64, null=True)
    decided_by = fields.CharField(max_length=64, null=True)
    decided_at = fields.DatetimeField(null=True)
    reject_reason = fields.CharField(max_length=32, null=True, db_index=True)
    reject_note = fields.TextField(default="")
    officer_name = fields.CharField(max_length=128, null=True)  # the deciding officer's full name, as signed

    class Meta:
        table = "violations"
        indexes = (("state", "wall_time"), ("plate", "wall_time"))


class ViolationTransition(Model):
    """One change of state: who, when, why, from which state to which."""

    id = fields.IntField(primary_key=True)
    violation_id = fields.IntField(db_index=True)
    from_state = fields.CharField(max_length=16, null=True)  # None: created
    to_state = fields.CharField(max_length=16)
    by = fields.CharField(max_length=64)
    at = fields.DatetimeField()
    reason = fields.TextField(default="")

    class Meta:
        table = "violation_transitions"
        ordering = ["id"]


class PlateEdit(Model):
    """An officer entered or confirmed a violation's plate."""

    id = fields.IntField(primary_key=True)
    violation_id = fields.IntField(db_index=True)
    old_plate = fields.CharField(max_length=16, null=True)
    new_plate = fields.CharField(max_length=16)
    old_confidence = fields.FloatField(null=True)
    by = fields.CharField(max_length=64)
    at = fields.DatetimeField()
    note = fields.TextField(default="")

    class Meta:
        table = "violation_plate_edits"
        ordering = ["id"]
