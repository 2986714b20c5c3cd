"""The callback answer's two precomposed statements (payments/hot_path.py) give exactly what the
ORM gives: the same instances from the invoice lookup, the same row from the event insert."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save, pre_save

from franchise_platform.network.models import ProviderAccount
from franchise_platform.payments.hot_path import event_insert, invoice_with_account
from franchise_platform.payments.models import CallbackEvent, CallbackStatus, Invoice, LinkKind
from tests.factories import shop

from .helpers import active_link, deal_with_links, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(in_network) -> Invoice:
    account = shop(password3="refund-secret", fiscalization=True)
    deal = deal_with_links(account.partner.locations.get())
    visit(in_network.anonymous(), active_link(deal, LinkKind.PREPAYMENT))
    return Invoice.objects.get()


def _values(instance, model) -> dict[str, object]:
    # Through the attributes: sealed secrets are compared decrypted, JSON as parsed.
    return {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}


def test_the_invoice_and_its_shop_are_what_the_orm_reads(invoice):
    account = invoice.provider_account
    expected = Invoice.objects.select_related("provider_account").get(pk=invoice.pk)

    found = invoice_with_account(invoice.pk, str(account.partner_id))

    assert found is not None
    assert _values(found, Invoice) == _values(expected, Invoice)
    assert _values(found.provider_account, ProviderAccount) == _values(
        expected.provider_account, ProviderAccount
    )
    assert found.provider_account.password3 == "refund-secret"  # a sealed field, opened lazily
    assert isinstance(found.amount, Decimal)
    # Saved back through the ORM, nothing changes (the instance is a normal one from the db).
    found.save(update_fields=["status"])
    assert _values(Invoice.objects.get(pk=invoice.pk), Invoice) == _values(expected, Invoice)


def test_no_invoice_for_another_partner_an_unknown_number_or_a_bad_partner_id(invoice):
    partner_id = str(invoice.provider_account.partner_id)

    assert invoice_with_account(invoice.pk, str(uuid.uuid4())) is None
    assert invoice_with_account(invoice.pk + 1, partner_id) is None
    assert invoice_with_account(invoice.pk, "not-a-uuid") is None


def _event(invoice: Invoice) -> CallbackEvent:
    account = invoice.provider_account
    return CallbackEvent(
        provider="robokassa",
        partner_id=account.partner_id,
        provider_account=account,
        invoice_number=invoice.pk,
        params={"OutSum": "1500.000000", "InvId": str(invoice.pk), "Имя": "Ёлка"},
        amount=Decimal("1500.00"),
        accepted=True,
        reason_code="",
        buyer_email="buyer@example.com",
        status=CallbackStatus.PENDING,
    )


def test_the_event_row_is_what_save_writes(invoice):
    by_orm, by_sql = _event(invoice), _event(invoice)
    by_orm.accepted = False  # the partial unique index allows one accepted event per invoice
    by_orm.save(force_insert=True)

    event_insert(by_sql)

    assert by_sql._state.adding is False
    orm_row = CallbackEvent.objects.filter(pk=by_orm.pk).values().get()
    sql_row = CallbackEvent.objects.filter(pk=by_sql.pk).values().get()
    differing = {k for k in orm_row if orm_row[k] != sql_row[k]}
    assert differing == {"id", "accepted", "received_at"}
    assert sql_row["received_at"] is not None
    assert sql_row["params"]["Имя"] == "Ёлка"


def test_a_second_accepted_event_for_the_invoice_raises_like_save(invoice):
    event_insert(_event(invoice))

    with pytest.raises(IntegrityError), transaction.atomic():
        event_insert(_event(invoice))
    assert CallbackEvent.objects.count() == 1


def test_the_event_model_has_no_signal_receivers_that_the_insert_would_skip():
    assert not pre_save.has_listeners(CallbackEvent)
    assert not post_save.has_listeners(CallbackEvent)
