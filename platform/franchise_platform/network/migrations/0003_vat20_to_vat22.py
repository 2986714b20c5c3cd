"""From 2026-01-01 the general VAT rate is 22 %: partners still set to 20 % move to 22 %, each with
an audit entry and a notice the owner sees in the panel (their accountant confirms the rate)."""

from django.db import migrations

NOTICE = (
    "С 1 января 2026 года основная ставка НДС — 22 %: ставка партнёра заменена с 20 % на 22 %. "
    "Проверьте её с бухгалтером (на УСН возможны 5 % или 7 %)."
)


def forwards(apps, schema_editor):
    Partner = apps.get_model("network", "Partner")
    AuditEntry = apps.get_model("security", "AuditEntry")
    for partner in Partner.objects.filter(vat="vat20"):
        partner.vat = "vat22"
        partner.tax_notice = NOTICE
        partner.save(update_fields=["vat", "tax_notice"])
        AuditEntry.objects.create(
            actor="platform",
            action="partner.vat_2026",
            object_type="Partner",
            object_id=str(partner.pk),
            object_repr=partner.name[:300],
            changes={"vat": ["vat20", "vat22"]},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("network", "0002_invoice_numbers_tax_notice"),
        ("security", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
