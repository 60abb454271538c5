"""The export's tables: each case handed to the prosecutor, and each batch it went out in.

A case joins exactly one batch: the batch claims every case without one in a
single UPDATE, and a batch left ``building`` by a crash is finished (not
replaced) by the next run. The court's results are kept on the case.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from core.interfaces import ModelSet


class ExportCase(Model):
    """A verified violation the prosecutor gets: its facts as handed over, its batch, the court's result."""

    id = fields.IntField(primary_key=True)
    violation_id = fields.IntField(unique=True)
    event_id = fields.CharField(max_length=16, unique=True)  # the violation.verified event: repeats are skipped
    agency = fields.CharField(max_length=16, db_index=True)  # the camera's: decides which users see it
    facts = fields.TextField()  # JSON: what the case file is built from (plugins/kejaksaan_export/sink.py)
    received_at = fields.DatetimeField()
    batch_id = fields.IntField(null=True, db_index=True)  # None: waiting for the next batch
    # the court's decision (Perma 12/2016): fine, court fee, or days of confinement in lieu
    fine = fields.IntField(null=True)
    court_fee = fields.IntField(null=True)
    subsidiary_days = fields.IntField(null=True)
    decided_on = fields.CharField(max_length=10, null=True)  # YYYY-MM-DD
    verdict = fields.CharField(max_length=64, default="")  # the court's reference, if any
    # payment of the fine and fee, or the confinement served instead
    paid_amount = fields.IntField(null=True)
    paid_on = fields.CharField(max_length=10, null=True)
    ntpn = fields.CharField(max_length=32, default="")
    channel = fields.CharField(max_length=32, default="")
    confinement_served = fields.BooleanField(default=False)
    result_by = fields.CharField(max_length=64, null=True)
    result_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)  # the violation's case closed (services.violations.close)
    close_error = fields.CharField(max_length=200, default="")  # why closing failed; retried

    class Meta:
        table = "kejaksaan_cases"


class ExportBatch(Model):
    """One batch of case files: ``building`` until its folder is in place, then ``complete``."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=32, unique=True)  # KJ-YYYYMMDD-NNNN, the folder's name
    state = fields.CharField(max_length=12, db_index=True)
    trigger = fields.CharField(max_length=12)  # scheduled, api or cli
    requested_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    cases = fields.IntField(default=0)
    done = fields.IntField(default=0)  # cases written so far: the progress shown
    hearing_date = fields.CharField(max_length=10, null=True)
    manifest_sha256 = fields.CharField(max_length=64, null=True)
    error = fields.CharField(max_length=300, default="")  # the last run's failure (a full target ...)

    class Meta:
        table = "kejaksaan_batches"


# these tables and their migrations, for the core (bconnect_register_models) and the command line
MODELS = ModelSet(app="kejaksaan_export", models="plugins.kejaksaan_export.models",
                  migrations="plugins.kejaksaan_export.migrations")
