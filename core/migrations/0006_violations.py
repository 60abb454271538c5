from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0005_zones')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PlateEdit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('violation_id', fields.IntField(db_index=True)),
                ('old_plate', fields.CharField(null=True, max_length=16)),
                ('new_plate', fields.CharField(max_length=16)),
                ('old_confidence', fields.FloatField(null=True)),
                ('by', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'violation_plate_edits', 'app': 'core', 'pk_attr': 'id', 'table_description': "An officer entered or confirmed a violation's plate."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Violation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(null=True, unique=True, max_length=16)),
                ('kind', fields.CharField(db_index=True, max_length=98)),
                ('camera_id', fields.CharField(max_length=64)),
                ('agency', fields.CharField(db_index=True, max_length=16)),
                ('area', fields.CharField(null=True, max_length=64)),
                ('zone_id', fields.CharField(null=True, max_length=64)),
                ('mode', fields.CharField(max_length=12)),
                ('wall_time', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('snapshot_path', fields.CharField(null=True, max_length=128)),
                ('snapshot_sha256', fields.CharField(null=True, max_length=64)),
                ('clip_id', fields.CharField(null=True, max_length=16)),
                ('plate', fields.CharField(null=True, db_index=True, max_length=16)),
                ('plate_confidence', fields.FloatField(null=True)),
                ('plate_source', fields.CharField(null=True, max_length=8)),
                ('plate_problem', fields.CharField(default='', max_length=200)),
                ('plate_confirmed_by', fields.CharField(null=True, max_length=64)),
                ('vehicle_class', fields.CharField(null=True, max_length=32)),
                ('legal', fields.TextField(null=True, unique=False)),
                ('state', fields.CharField(db_index=True, max_length=16)),
                ('ladder_step', fields.CharField(null=True, max_length=32)),
                ('offence_count', fields.IntField(null=True)),
                ('version', fields.IntField(default=0)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('assigned_to', fields.CharField(null=True, max_length=64)),
                ('decided_by', fields.CharField(null=True, max_length=64)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reject_reason', fields.CharField(null=True, db_index=True, max_length=32)),
                ('reject_note', fields.TextField(default='', unique=False)),
                ('officer_name', fields.CharField(null=True, max_length=128)),
            ],
            options={'table': 'violations', 'app': 'core', 'indexes': [Index(fields=['state', 'wall_time']), Index(fields=['plate', 'wall_time'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ViolationTransition',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('violation_id', fields.IntField(db_index=True)),
                ('from_state', fields.CharField(null=True, max_length=16)),
                ('to_state', fields.CharField(max_length=16)),
                ('by', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reason', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'violation_transitions', 'app': 'core', 'pk_attr': 'id', 'table_description': 'One change of state: who, when, why, from which state to which.'},
            bases=['Model'],
        ),
    ]
