"""Location options follow the network: adding, renaming, (de)activating or deleting a location
queues one fields sync (coalesced with any still waiting); nothing without a CRM connection."""

from __future__ import annotations

import pytest

from franchise_platform.crm_sync.models import OutboxKind, OutboxMessage, OutboxStatus
from franchise_platform.flows.locations import (
    location_create,
    location_delete,
    location_update,
)
from tests.factories import PartnerFactory

from .conftest import crm_connection

pytestmark = pytest.mark.django_db


def _syncs(status=OutboxStatus.PENDING) -> int:
    return OutboxMessage.objects.filter(kind=OutboxKind.FIELDS_SYNC, status=status).count()


def _all_sent() -> None:
    OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(status=OutboxStatus.SENT)


@pytest.fixture
def partner(in_network):
    return PartnerFactory()


def test_create_rename_deactivate_leave_exactly_one_pending_sync(
    in_network, partner, django_capture_on_commit_callbacks
):
    crm_connection()

    with django_capture_on_commit_callbacks() as wakeups:
        location = location_create(actor="t", name="Квест «Маяк»", partner=partner)
    assert _syncs() == 1 and len(wakeups) == 1  # the sender is woken after the commit
    location_update(actor="t", location=location, changes={"name": "Квест «Маяк 2»"})
    location_update(actor="t", location=location, changes={"active": False})

    assert _syncs() == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [{"name": "Квест «Новое имя»"}, {"active": False}],
    ids=["rename", "deactivate"],
)
def test_each_change_queues_a_sync_once_the_last_one_went_out(in_network, partner, change):
    crm_connection()
    location = location_create(actor="t", name="Квест «Маяк»", partner=partner)
    _all_sent()

    location_update(actor="t", location=location, changes=change)

    assert _syncs() == 1


def test_reactivating_and_deleting_queue_a_sync_too(in_network, partner):
    crm_connection()
    location = location_create(actor="t", name="Квест «Маяк»", partner=partner, active=False)
    _all_sent()
    location_update(actor="t", location=location, changes={"active": True})
    assert _syncs() == 1
    _all_sent()

    location_delete(actor="t", location=location)

    assert _syncs() == 1


def test_a_change_the_crm_does_not_show_queues_nothing(in_network, partner):
    crm_connection()
    location = location_create(actor="t", name="Квест «Маяк»", partner=partner)
    _all_sent()

    location_update(actor="t", location=location, changes={"address": "ул. Пушкина, 10"})
    location_update(actor="t", location=location, changes={"name": "Квест «Маяк»"})  # unchanged

    assert _syncs() == 0


def test_without_a_crm_connection_nothing_is_queued(in_network, partner):
    location = location_create(actor="t", name="Квест «Маяк»", partner=partner)
    location_update(actor="t", location=location, changes={"name": "Другое"})

    assert not OutboxMessage.objects.exists()


def test_the_panel_form_goes_through_the_same_path(in_network, owner, partner):
    crm_connection()

    response = owner.post(
        "/panel/locations/new/", {"name": "Квест «Из панели»", "partner": partner.pk}
    )

    assert response.status_code == 302
    assert _syncs() == 1
