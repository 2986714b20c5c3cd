"""Issue 13, item 5: VAT that is legal on the payment date. From 2026-01-01 the general rate is
22 %; 20 % is refused for new writes (still an accepted value of the API schema: the answer is a
clear 422), partners still on 20 % were moved to 22 % with an audit entry and a notice, and tax
system × VAT pairs that cannot exist are refused naming the allowed ones."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from django.apps import apps
from django_tenants.utils import tenant_context

from franchise_platform.network.errors import InputRejected
from franchise_platform.network.models import Partner, TaxSystem, Vat
from franchise_platform.network.rules import vat_problem
from franchise_platform.network.services.partners import partner_update
from franchise_platform.security.models import AuditEntry
from tests.factories import shop

from .conftest import partner_body, patch_json, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners"
IN_2026 = date(2026, 6, 1)
IN_2025 = date(2025, 6, 1)

# fiscal.md §6.3, written out in full so that the table is read, not derived.
ALLOWED_2026 = {
    "osn": {"none", "vat0", "vat10", "vat22"},
    "usn_income": {"none", "vat0", "vat5", "vat7", "vat10", "vat22"},
    "usn_income_outcome": {"none", "vat0", "vat5", "vat7", "vat10", "vat22"},
    "esn": {"none", "vat0", "vat10", "vat22"},
    "patent": {"none"},
}


@pytest.mark.parametrize("tax_system", TaxSystem.values)
@pytest.mark.parametrize("vat", Vat.values)
def test_every_tax_system_and_vat_pair_on_a_2026_payment(tax_system, vat):
    problem = vat_problem(tax_system=tax_system, vat=vat, on=IN_2026)

    if vat in ALLOWED_2026[tax_system]:
        assert problem is None
    else:
        assert problem is not None and problem.field == "vat"
        assert problem.code == ("vat_rate_retired" if vat == "vat20" else "vat_not_allowed")
        assert "допустимы:" in problem.message
        for allowed in ALLOWED_2026[tax_system]:
            assert str(Vat(allowed).label) in problem.message


@pytest.mark.parametrize("tax_system", TaxSystem.values)
def test_before_2026_the_general_rate_was_20(tax_system):
    if "vat22" in ALLOWED_2026[tax_system]:
        assert vat_problem(tax_system=tax_system, vat="vat20", on=IN_2025) is None
        assert vat_problem(tax_system=tax_system, vat="vat22", on=IN_2025) is not None


def test_osn_with_5_percent_is_refused_naming_the_allowed_rates(owner_a):
    response = post_json(owner_a.api(), URL, partner_body(tax_system="osn", vat="vat5"))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "vat_not_allowed"
    assert "ОСН" in body["detail"] and "НДС 22%" in body["detail"]


def test_vat20_is_an_accepted_value_but_refused_for_a_new_partner(owner_a, net_a):
    response = post_json(owner_a.api(), URL, partner_body(tax_system="osn", vat="vat20"))

    assert response.status_code == 422  # not a schema error: the value is known, the rate retired
    assert response.json()["code"] == "vat_rate_retired"
    assert "22%" in response.json()["detail"]
    with tenant_context(net_a.network):
        assert not Partner.objects.filter(vat="vat20").exists()


def test_vat20_is_refused_for_an_existing_partner_too(owner_a):
    pid = post_json(owner_a.api(), URL, partner_body(tax_system="osn", vat="vat22")).json()["id"]

    response = patch_json(owner_a.api(), f"{URL}/{pid}", {"vat": "vat20"})

    assert response.status_code == 422
    assert response.json()["code"] == "vat_rate_retired"


def _migration():
    return importlib.import_module("franchise_platform.network.migrations.0003_vat20_to_vat22")


def test_partners_on_20_percent_move_to_22_with_an_audit_entry_and_a_notice(in_network):
    legacy = shop().partner
    Partner.objects.filter(pk=legacy.pk).update(tax_system="osn", vat="vat20")
    other = shop().partner

    _migration().forwards(apps, None)

    legacy.refresh_from_db()
    other.refresh_from_db()
    assert legacy.vat == "vat22" and "22 %" in legacy.tax_notice
    assert other.vat == "none" and other.tax_notice == ""
    entry = AuditEntry.objects.get(action="partner.vat_2026")
    assert (entry.object_id, entry.changes) == (str(legacy.pk), {"vat": ["vat20", "vat22"]})


def test_the_notice_shows_on_the_partner_page_until_the_owner_sets_the_rate(in_network):
    legacy = shop().partner
    Partner.objects.filter(pk=legacy.pk).update(tax_system="osn", vat="vat20")
    _migration().forwards(apps, None)
    owner = in_network.owner.browser_client()

    shown = owner.get(f"/panel/partners/{legacy.pk}/").content.decode()
    legacy.refresh_from_db()
    partner_update(actor="owner", partner=legacy, changes={"vat": "vat10"})
    gone = owner.get(f"/panel/partners/{legacy.pk}/").content.decode()

    assert 'id="tax-notice"' in shown and "22 %" in shown
    assert 'id="tax-notice"' not in gone


def test_a_pair_that_cannot_exist_is_refused_by_the_service(in_network):
    partner = shop().partner

    with pytest.raises(InputRejected) as refused:
        partner_update(
            actor="owner", partner=partner, changes={"tax_system": "patent", "vat": "vat22"}
        )

    assert refused.value.problems[0].code == "vat_not_allowed"
    partner.refresh_from_db()
    assert partner.tax_system == "usn_income"


def test_the_first_invoice_number_is_set_per_shop_through_the_api(owner_a):
    created = post_json(owner_a.api(), URL, partner_body())
    pid = created.json()["id"]

    moved = patch_json(
        owner_a.api(), f"{URL}/{pid}", {"robokassa": {"invoice_number_start": 1_500_000_000}}
    )
    too_high = patch_json(
        owner_a.api(), f"{URL}/{pid}", {"robokassa": {"invoice_number_start": 2_147_000_000}}
    )

    assert created.json()["robokassa"]["invoice_number_start"] == 1_000_000_000
    assert moved.status_code == 200
    assert moved.json()["robokassa"]["invoice_number_start"] == 1_500_000_000
    assert too_high.status_code == 422
    assert too_high.json()["code"] == "invalid_invoice_number_start"


def test_a_partner_with_an_old_pair_can_still_be_renamed_or_deactivated(in_network):
    partner = shop().partner
    Partner.objects.filter(pk=partner.pk).update(tax_system="osn", vat="vat5")
    partner.refresh_from_db()

    partner_update(
        actor="owner", partner=partner, changes={"active": False, "name": "ООО «Старое»"}
    )

    partner.refresh_from_db()
    assert (partner.active, partner.name, partner.vat) == (False, "ООО «Старое»", "vat5")
