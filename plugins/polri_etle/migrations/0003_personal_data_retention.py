from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('polri_etle', '0002_tickets')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='erased_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
