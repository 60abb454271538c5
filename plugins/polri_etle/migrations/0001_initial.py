from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='UnitFix',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('unit', fields.CharField(unique=True, max_length=64)),
                ('lat', fields.FloatField()),
                ('lon', fields.FloatField()),
                ('fix_time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reported_by', fields.CharField(max_length=64)),
            ],
            options={'table': 'polri_unit_fixes', 'app': 'polri_etle', 'pk_attr': 'id', 'table_description': 'The latest position each mobile unit reported (one row per unit).'},
            bases=['Model'],
        ),
    ]
