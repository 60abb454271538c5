from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0004_events')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ZoneRow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('camera_id', fields.CharField(db_index=True, max_length=64)),
                ('zone_id', fields.CharField(max_length=64)),
                ('preset', fields.CharField(null=True, db_index=True, max_length=64)),
                ('position', fields.IntField(default=0)),
                ('zone', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('version', fields.IntField()),
                ('updated_by', fields.CharField(max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'zones', 'app': 'core', 'unique_together': (('camera_id', 'zone_id'),), 'pk_attr': 'id', 'table_description': 'One analytics zone of a camera, or the camera\'s zone-set header (``zone_id = ""``).'},
            bases=['Model'],
        ),
    ]
