"""The events tables: one row per event, and one delivery cursor per sink.

``seq`` orders events as they were stored; the outbox delivers in that order
and remembers, per sink, the last ``seq`` a sink accepted. ``id`` is the
event's public id, unique, so a publish repeated with the same id stores
nothing new. Acknowledgement is the only change an event row ever sees.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class EventRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=16, unique=True)
    kind = fields.CharField(max_length=98, db_index=True)
    camera_id = fields.CharField(max_length=64)
    preset_id = fields.CharField(max_length=64, null=True)
    zone_id = fields.CharField(max_length=64, null=True)
    track_id = fields.BigIntField(null=True)
    wall_time = fields.DatetimeField(db_index=True)
    stream_time = fields.FloatField(null=True)
    detail = fields.TextField(default="{}")  # JSON
    snapshot_path = fields.CharField(max_length=128, null=True)
    snapshot_sha256 = fields.CharField(max_length=64, null=True)
    clip_id = fields.CharField(max_length=16, null=True)
    priority = fields.CharField(max_length=8)
    agency = fields.CharField(max_length=16, db_index=True)
    area = fields.CharField(max_length=64, null=True)
    mode = fields.CharField(max_length=12)
    received_at = fields.DatetimeField(auto_now_add=True)
    acked_by = fields.CharField(max_length=64, null=True)
    acked_at = fields.DatetimeField(null=True, db_index=True)
    ack_note = fields.TextField(default="")

    class Meta:
        table = "events"
        indexes = (("camera_id", "wall_time"), ("area", "wall_time"))


class SinkCursor(Model):
    """How far one sink has taken the event log: ``position`` is the last ``seq`` it accepted."""

    sink = fields.CharField(max_length=64, primary_key=True)
    position = fields.BigIntField(default=0)
    delivered = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sink_cursors"
