"""Reading the lead's buyer from amoCRM (amocrm.md §2.1): the lead's contacts come only with
``with=contacts``; the main one's EMAIL / PHONE multitext fields are read by ``field_code``."""

from __future__ import annotations

import pytest

from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.base import BuyerContact
from crm_connectors.errors import CrmNotFound
from tests.fakes.amocrm import FakeAmoCrm


def test_main_contacts_first_email_and_phone(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    other = fake.add_contact(account_id, name="Коллега", emails=["colleague@example.com"])
    buyer = fake.add_contact(
        account_id,
        name="Иванов",
        emails=["  ", "ivanov@example.com", "second@example.com"],
        phones=["+7 917 123-45-67"],
    )
    fake.link_contact(account_id, 7001, other, is_main=False)
    fake.link_contact(account_id, 7001, buyer, is_main=True)

    contact = connector.read_lead_contact(7001)

    assert contact == BuyerContact(email="ivanov@example.com", phone="+7 917 123-45-67")
    paths = [(r.method, r.path) for r in fake.requests if r.path.startswith("/api/v4")]
    assert paths[-2:] == [("GET", "/api/v4/leads/7001"), ("GET", f"/api/v4/contacts/{buyer}")]


def test_without_a_main_contact_the_first_linked_one_is_read(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7002, 5000)
    only = fake.add_contact(account_id, phones=["89171234567"])
    fake.link_contact(account_id, 7002, only, is_main=False)

    assert connector.read_lead_contact(7002) == BuyerContact(email=None, phone="89171234567")


def test_a_lead_without_contacts_has_none(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7003, 5000)
    assert connector.read_lead_contact(7003) is None


def test_a_contact_without_email_or_phone_is_empty(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7004, 5000)
    fake.link_contact(account_id, 7004, fake.add_contact(account_id))

    contact = connector.read_lead_contact(7004)

    assert contact is not None and contact.empty


def test_a_deleted_contact_reads_as_none(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7005, 5000)
    gone = fake.add_contact(account_id, emails=["gone@example.com"])
    fake.link_contact(account_id, 7005, gone)
    fake.delete_contact(account_id, gone)

    assert connector.read_lead_contact(7005) is None


def test_a_missing_lead_raises_not_found(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    with pytest.raises(CrmNotFound):
        connector.read_lead_contact(7999)


def test_the_fake_embeds_contacts_only_when_asked(fake: FakeAmoCrm, account_id: int) -> None:
    # The connector's first call depends on it: without `with=contacts` amoCRM lists none.
    fake.set_lead(account_id, 7006, 5000)
    fake.link_contact(account_id, 7006, fake.add_contact(account_id, emails=["a@example.com"]))
    assert "contacts" not in fake.lead(account_id, 7006)["_embedded"]
