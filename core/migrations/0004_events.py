from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0003_clips')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventRow',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('id', fields.CharField(unique=True, max_length=16)),
                ('kind', fields.CharField(db_index=True, max_length=98)),
                ('camera_id', fields.CharField(max_length=64)),
                ('preset_id', fields.CharField(null=True, max_length=64)),
                ('zone_id', fields.CharField(null=True, max_length=64)),
                ('track_id', fields.BigIntField(null=True)),
                ('wall_time', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('stream_time', fields.FloatField(null=True)),
                ('detail', fields.TextField(default='{}', unique=False)),
                ('snapshot_path', fields.CharField(null=True, max_length=128)),
                ('snapshot_sha256', fields.CharField(null=True, max_length=64)),
                ('clip_id', fields.CharField(null=True, max_length=16)),
                ('priority', fields.CharField(max_length=8)),
                ('agency', fields.CharField(db_index=True, max_length=16)),
                ('area', fields.CharField(null=True, max_length=64)),
                ('mode', fields.CharField(max_length=12)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('acked_by', fields.CharField(null=True, max_length=64)),
                ('acked_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('ack_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'events', 'app': 'core', 'indexes': [Index(fields=['camera_id', 'wall_time']), Index(fields=['area', 'wall_time'])], 'pk_attr': 'seq'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SinkCursor',
            fields=[
                ('sink', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('position', fields.BigIntField(default=0)),
                ('delivered', fields.BigIntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sink_cursors', 'app': 'core', 'pk_attr': 'sink', 'table_description': 'How far one sink has taken the event log: ``position`` is the last ``seq`` it accepted.'},
            bases=['Model'],
        ),
    ]
