# The refund's requester as an e-mail, not a foreign key: users also live in the public schema,
# where deleting one must not touch a network's payments_refund table.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_settlement_receipts"),
    ]

    operations = [
        migrations.RemoveField(model_name="refund", name="requested_by"),
        migrations.AddField(
            model_name="refund",
            name="requested_by",
            field=models.CharField(blank=True, max_length=254),
        ),
    ]
