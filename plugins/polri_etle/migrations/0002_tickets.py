from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('polri_etle', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BlockRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket_id', fields.IntField(unique=True)),
                ('plate', fields.CharField(max_length=32)),
                ('reason', fields.TextField(unique=False)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lifted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lifted_by', fields.CharField(null=True, max_length=64)),
                ('lift_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'polri_block_requests', 'app': 'polri_etle', 'pk_attr': 'id', 'table_description': "A request to block a vehicle's registration (STNK): at most one per ticket, lifted when paid."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reference', fields.CharField(unique=True, max_length=48)),
                ('event_id', fields.CharField(unique=True, max_length=32)),
                ('violation_id', fields.IntField(unique=True)),
                ('agency', fields.CharField(max_length=32)),
                ('camera_id', fields.CharField(max_length=64)),
                ('place', fields.CharField(max_length=200)),
                ('wall_time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lat', fields.FloatField(null=True)),
                ('lon', fields.FloatField(null=True)),
                ('position_source', fields.CharField(max_length=16)),
                ('gps_unit', fields.CharField(null=True, max_length=64)),
                ('gps_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('plate', fields.CharField(max_length=32)),
                ('vehicle_class', fields.CharField(null=True, max_length=32)),
                ('legal', fields.TextField(unique=False)),
                ('snapshot_path', fields.CharField(null=True, max_length=200)),
                ('snapshot_sha256', fields.CharField(null=True, max_length=64)),
                ('officer_name', fields.CharField(null=True, max_length=128)),
                ('state', fields.CharField(max_length=24)),
                ('waiting_reason', fields.TextField(default='', unique=False)),
                ('lookup_attempts', fields.IntField(default=0)),
                ('next_try_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('owner_name', fields.CharField(null=True, max_length=200)),
                ('owner_address', fields.TextField(null=True, unique=False)),
                ('make', fields.CharField(null=True, max_length=64)),
                ('vehicle_type', fields.CharField(null=True, max_length=64)),
                ('colour', fields.CharField(null=True, max_length=64)),
                ('letter_path', fields.CharField(null=True, max_length=200)),
                ('letter_sha256', fields.CharField(null=True, max_length=64)),
                ('letter_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivery', fields.CharField(default='none', max_length=16)),
                ('confirmed_as', fields.CharField(null=True, max_length=16)),
                ('driver_name', fields.CharField(null=True, max_length=200)),
                ('dispute_reason', fields.TextField(null=True, unique=False)),
                ('payment_ref', fields.CharField(null=True, max_length=64)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('confirm_by', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('pay_by', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('violation_closed', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'polri_tickets', 'app': 'polri_etle', 'pk_attr': 'id', 'table_description': 'One ETLE case: a verified violation, its owner lookup, its confirmation letter and what followed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TicketTransition',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket_id', fields.IntField(db_index=True)),
                ('field', fields.CharField(max_length=16)),
                ('from_value', fields.CharField(null=True, max_length=24)),
                ('to_value', fields.CharField(max_length=24)),
                ('by', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'polri_ticket_transitions', 'app': 'polri_etle', 'pk_attr': 'id', 'table_description': "Every change of a ticket's state or delivery status: who, when, why."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UnitTrack',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('unit', fields.CharField(max_length=64)),
                ('lat', fields.FloatField()),
                ('lon', fields.FloatField()),
                ('fix_time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'polri_unit_track', 'app': 'polri_etle', 'indexes': [Index(fields=['unit', 'fix_time'])], 'pk_attr': 'id', 'table_description': 'Every fix a mobile unit reported: where it was when a violation was captured, days before the letter.'},
            bases=['Model'],
        ),
    ]
