"""Version 1 of the test plugin's table; the migration test adds a field to it."""

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=200)

    class Meta:
        table = "tp_notes"
