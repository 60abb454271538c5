from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ExportBatch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=32)),
                ('state', fields.CharField(db_index=True, max_length=12)),
                ('trigger', fields.CharField(max_length=12)),
                ('requested_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cases', fields.IntField(default=0)),
                ('done', fields.IntField(default=0)),
                ('hearing_date', fields.CharField(null=True, max_length=10)),
                ('manifest_sha256', fields.CharField(null=True, max_length=64)),
                ('error', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'kejaksaan_batches', 'app': 'kejaksaan_export', 'pk_attr': 'id', 'table_description': 'One batch of case files: ``building`` until its folder is in place, then ``complete``.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExportCase',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('violation_id', fields.IntField(unique=True)),
                ('event_id', fields.CharField(unique=True, max_length=16)),
                ('agency', fields.CharField(db_index=True, max_length=16)),
                ('facts', fields.TextField(unique=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('batch_id', fields.IntField(null=True, db_index=True)),
                ('fine', fields.IntField(null=True)),
                ('court_fee', fields.IntField(null=True)),
                ('subsidiary_days', fields.IntField(null=True)),
                ('decided_on', fields.CharField(null=True, max_length=10)),
                ('verdict', fields.CharField(default='', max_length=64)),
                ('paid_amount', fields.IntField(null=True)),
                ('paid_on', fields.CharField(null=True, max_length=10)),
                ('ntpn', fields.CharField(default='', max_length=32)),
                ('channel', fields.CharField(default='', max_length=32)),
                ('confinement_served', fields.BooleanField(default=False)),
                ('result_by', fields.CharField(null=True, max_length=64)),
                ('result_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('close_error', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'kejaksaan_cases', 'app': 'kejaksaan_export', 'pk_attr': 'id', 'table_description': "A verified violation the prosecutor gets: its facts as handed over, its batch, the court's result."},
            bases=['Model'],
        ),
    ]
