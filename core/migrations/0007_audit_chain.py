from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from core.audit.chain import chain_unsealed


async def chain_existing_entries(apps, schema_editor):
    # entries written before the chain existed are chained in id order, after any chained ones
    await chain_unsealed(schema_editor.client)

class Migration(migrations.Migration):
    dependencies = [('core', '0006_violations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EvidenceSnapshot',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('camera_id', fields.CharField(max_length=64)),
                ('agency', fields.CharField(max_length=16)),
                ('created_by', fields.CharField(max_length=64)),
                ('note', fields.TextField(default='', unique=False)),
                ('file', fields.CharField(max_length=128)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('held', fields.BooleanField(default=False)),
            ],
            options={'table': 'evidence_snapshots', 'app': 'core', 'pk_attr': 'id', 'table_description': 'A still picture kept as evidence, with the SHA-256 of the bytes written.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='AuditEntry',
            options={'table': 'audit_log', 'app': 'core', 'pk_attr': 'id', 'table_description': 'Who did what to what, when. Append-only and hash-chained (``core.audit.chain``).'},
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='address',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='entry_hash',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='prev_hash',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='AuditEntry',
            name='seq',
            field=fields.BigIntField(null=True, unique=True),
        ),
        ops.AddField(
            model_name='EvidenceClip',
            name='held',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.RunPython(chain_existing_entries),
    ]
