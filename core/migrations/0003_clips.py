from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0002_accounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EvidenceClip',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('camera_id', fields.CharField(max_length=64)),
                ('agency', fields.CharField(max_length=16)),
                ('created_by', fields.CharField(max_length=64)),
                ('note', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=8)),
                ('reason', fields.TextField(default='', unique=False)),
                ('pre_s', fields.FloatField()),
                ('post_s', fields.FloatField()),
                ('file', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_s', fields.FloatField(null=True)),
                ('frames', fields.IntField(null=True)),
                ('size', fields.BigIntField(null=True)),
                ('sha256', fields.CharField(null=True, max_length=64)),
                ('codec', fields.CharField(null=True, max_length=16)),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
            ],
            options={'table': 'clips', 'app': 'core', 'indexes': [Index(fields=['camera_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An evidence clip asked for through the API: who, why, and the MP4 once cut.'},
            bases=['Model'],
        ),
    ]
