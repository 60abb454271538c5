"""Polri's tables: the latest GPS fix of each mobile unit."""

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
