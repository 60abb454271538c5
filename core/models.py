"""The core's own tables: accounts, sessions, API tokens, audit trail, evidence clips (events: below).

Secrets (session cookies, bearer tokens) are stored only as SHA-256 hashes;
passwords only as argon2 hashes. The audit log is append-only: rows are
written once and the model refuses to change or delete them.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=16)
    agency = fields.CharField(max_length=16)
    disabled = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class Session(Model):
    """A browser session: the cookie holds the token, the table its hash."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="sessions", on_delete=fields.CASCADE
    )
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    last_seen_at = fields.DatetimeField()

    class Meta:
        table = "sessions"


class ApiToken(Model):
    """A bearer token for an API client, shown once when made."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"
        unique_together = (("user", "name"),)


class AuditEntry(Model):
    """Who did what to what, when. Append-only and hash-chained (``core.audit.chain``).

    ``seq`` numbers the chain from 1 without gaps (unique: two writers cannot
    both append entry N); ``entry_hash`` is the SHA-256 of the canonical form of
    this entry including ``prev_hash``, the hash of entry ``seq - 1``. A row
    without ``seq`` was not written by B-Connect.
    """

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=128, default="")
    detail = fields.TextField(default="")
    address = fields.CharField(max_length=64, default="", db_default="")  # the client's, for requests
    seq = fields.BigIntField(null=True, unique=True)
    prev_hash = fields.CharField(max_length=64, default="", db_default="")
    entry_hash = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "audit_log"
        ordering = ["id"]

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._saved_in_db:
            await super().save(*args, **kwargs)
            return
        raise PermissionError("the audit log is append-only")

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise PermissionError("the audit log is append-only")


class EvidenceSnapshot(Model):
    """A still picture kept as evidence, with the SHA-256 of the bytes written.

    The JPEG lives in ``data_dir/snapshots/<file>`` (``core.evidence.files``).
    """

    id = fields.CharField(max_length=16, primary_key=True)
    camera_id = fields.CharField(max_length=64)
    agency = fields.CharField(max_length=16)
    created_by = fields.CharField(max_length=64)
    note = fields.TextField(default="")
    file = fields.CharField(max_length=128)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    held = fields.BooleanField(default=False)  # evidence of an open case: the retention purge skips it

    class Meta:
        table = "evidence_snapshots"


class EvidenceClip(Model):
    """An evidence clip asked for through the API: who, why, and the MP4 once cut.

    ``status`` is ``pending`` while the post-roll is recorded, then ``ready``
    (the file, its hash and stream facts are set) or ``failed`` (``reason``).
    The MP4 lives in ``data_dir/clips/<file>``, its SHA-256 also in the
    ``.json`` beside it. ``agency`` is the camera's when cut: it decides who
    may see the clip even if the camera later leaves the deployment.
    """

    id = fields.CharField(max_length=16, primary_key=True)
    camera_id = fields.CharField(max_length=64)
    agency = fields.CharField(max_length=16)
    created_by = fields.CharField(max_length=64)
    note = fields.TextField(default="")
    status = fields.CharField(max_length=8, default="pending", db_index=True)
    reason = fields.TextField(default="")
    pre_s = fields.FloatField()
    post_s = fields.FloatField()
    file = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)  # the first frame's wall-clock time
    duration_s = fields.FloatField(null=True)
    frames = fields.IntField(null=True)
    size = fields.BigIntField(null=True)
    sha256 = fields.CharField(max_length=64, null=True)
    codec = fields.CharField(max_length=16, null=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    held = fields.BooleanField(default=False, db_default=False)  # an open case's evidence: never purged

    class Meta:
        table = "clips"
        indexes = (("camera_id", "created_at"),)


class ZoneRow(Model):
    """One analytics zone of a camera, or the camera's zone-set header (``zone_id = ""``).

    ``zone`` is the zone exactly as :class:`core.analytics.zones.Zone` validated
    it (its JSON form); the library's types are the truth, this row only
    stores them, with the camera and preset indexed for lookups. The header
    row (``zone`` null) holds the camera's zone-set ``version``, who saved it
    and when; it stays when the last zone is removed, so a version never
    goes back and an edit based on an old one is always refused. Zone rows
    repeat the version they were saved with. Written only by
    :class:`core.analytics.zone_store.ZoneStore`.
    """

    id = fields.IntField(primary_key=True)
    camera_id = fields.CharField(max_length=64, db_index=True)
    zone_id = fields.CharField(max_length=64)  # "" for the header
    preset = fields.CharField(max_length=64, null=True, db_index=True)
    position = fields.IntField(default=0)  # the zone's place in the camera's list
    zone = fields.JSONField(null=True)
    version = fields.IntField()
    updated_by = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "zones"
        unique_together = (("camera_id", "zone_id"),)


# the events tables live beside their service; tortoise finds the core app's models in this module
from core.events.models import EventRow, SinkCursor  # noqa: E402,F401
from core.violations.models import PlateEdit, Violation, ViolationTransition  # noqa: E402,F401
