"""AmoCrmConnector against the fake amoCRM, end to end over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.base import DealStateUpdate, FieldMap, LocationOption
from crm_connectors.errors import CrmNotFound, CrmValidationError
from tests.fakes.amocrm import FakeAmoCrm

LOCATIONS = [
    LocationOption("loc-kazan-1", "Квест «Тайная комната», ул. Баумана 1"),
    LocationOption("loc-kazan-2", "Квест «Подземелье», ул. Пушкина 5"),
]


@pytest.fixture
def fields(connector: AmoCrmConnector) -> FieldMap:
    return connector.ensure_fields(LOCATIONS, None)


def test_read_lead_returns_decimal_price_and_resolved_location(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    enum_id = fields.location_options["loc-kazan-2"]
    fake.set_lead(account_id, 7001, 5000, location_enum_id=enum_id, name="Иванов, 4 человека")

    lead = connector.read_lead(7001, fields)

    assert lead.lead_id == 7001
    assert lead.title == "Иванов, 4 человека"
    assert lead.price == Decimal("5000")
    assert isinstance(lead.price, Decimal)
    assert lead.location_key == "loc-kazan-2"
    assert lead.location_label == "Квест «Подземелье», ул. Пушкина 5"
    assert lead.updated_at is not None
    assert lead.updated_at.tzinfo is not None


def test_read_lead_without_location_has_no_key(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7002, 0)

    lead = connector.read_lead(7002, fields)

    assert lead.price == Decimal(0)
    assert lead.location_key is None
    assert lead.location_label is None


def test_read_lead_of_a_foreign_option_keeps_the_label_but_no_key(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    foreign = fake.add_field(account_id, "Локация", "select", enums=["Старая точка"])
    fake.set_lead(account_id, 7003, 100, location_enum_id=foreign["enums"][0]["id"])

    lead = connector.read_lead(7003, fields)

    assert lead.location_key is None  # another field's option never resolves to our key


def test_read_missing_lead_raises_not_found(connector: AmoCrmConnector, fields: FieldMap) -> None:
    with pytest.raises(CrmNotFound):
        connector.read_lead(999_999, fields)


def test_write_deal_state_fills_the_lead_fields(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    update = DealStateUpdate(
        lead_id=7001,
        prepayment_url="http://chezaquest.localhost:8000/pay/aaa",
        full_url="http://chezaquest.localhost:8000/pay/bbb",
        paid_sum=Decimal("1500.00"),
        status_label="partially_paid",
    )

    connector.write_deal_state(update, fields)

    values = fake.lead_values(account_id, 7001)
    assert values["Ссылка на предоплату"] == "http://chezaquest.localhost:8000/pay/aaa"
    assert values["Ссылка на полную оплату"] == "http://chezaquest.localhost:8000/pay/bbb"
    assert Decimal(values["Оплачено"]) == Decimal("1500")
    assert values["Статус оплаты"] == "Частично оплачено"
    assert fake.lead(account_id, 7001)["price"] == 5000  # the price is not ours to touch


def test_write_deal_state_is_idempotent_and_keeps_kopecks(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    update = DealStateUpdate(7001, None, "https://x.example/pay/b", Decimal("1234.56"), "Оплачено")

    connector.write_deal_state(update, fields)
    connector.write_deal_state(update, fields)

    values = fake.lead_values(account_id, 7001)
    assert values["Оплачено"] == "1234.56"
    assert values["Статус оплаты"] == "Оплачено"
    assert "Ссылка на предоплату" not in values  # None clears the field


def test_write_deal_state_refuses_unknown_status_without_calling(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    before = len(fake.api_requests(account_id))
    update = DealStateUpdate(7001, None, None, Decimal(0), "почти оплачено")

    with pytest.raises(CrmValidationError):
        connector.write_deal_state(update, fields)

    assert len(fake.api_requests(account_id)) == before


def test_write_to_a_field_deleted_by_an_admin_is_a_validation_error(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    fake.accounts[account_id].fields.pop(fields.paid_sum_field_id)

    with pytest.raises(CrmValidationError) as caught:
        connector.write_deal_state(DealStateUpdate(7001, None, None, Decimal(1), "paid"), fields)

    assert caught.value.permanent
    assert any("NotSupportedChoice" in e for e in caught.value.errors)


def test_add_note_returns_the_note_id(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7001, 5000)

    note_id = connector.add_note(7001, "Оплачено 1500.00 ₽ (ИП Иванов), счёт 42")

    notes = fake.notes(account_id, 7001)
    assert [n["id"] for n in notes] == [note_id]
    assert notes[0]["note_type"] == "common"
    assert notes[0]["params"]["text"] == "Оплачено 1500.00 ₽ (ИП Иванов), счёт 42"


def test_add_note_once_does_not_duplicate_a_note_that_already_landed(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    text = "Оплачено 1500.00 ₽ [msg:7f3a]"
    first = connector.add_note(7001, text)  # e.g. the attempt whose answer timed out

    again = connector.add_note_once(7001, text, marker="[msg:7f3a]")

    assert again == first
    assert len(fake.notes(account_id, 7001)) == 1


def test_add_note_once_creates_when_absent(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fake.set_lead(account_id, 7001, 5000)
    connector.add_note(7001, "другая заметка")

    note_id = connector.add_note_once(7001, "Ссылки созданы [msg:1]", marker="[msg:1]")

    assert note_id == fake.notes(account_id, 7001)[-1]["id"]
    assert connector.find_note(7001, "[msg:absent]") is None


def test_subscribe_webhook_is_idempotent_and_re_enables(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    url = "https://platform.example/integrations/amocrm/webhook/s3cr3t/"

    connector.subscribe_webhook(url)
    connector.subscribe_webhook(url)

    hooks = fake.webhooks(account_id)
    assert len(hooks) == 1
    assert set(hooks[0]["settings"]) == {"add_lead", "update_lead", "status_lead"}
    assert len(fake.api_requests(account_id, methods=["POST"])) == 1

    fake.disable_webhook(account_id, url)
    connector.subscribe_webhook(url)
    assert fake.webhooks(account_id)[0]["disabled"] is False


def test_parse_webhook_from_the_fake_form(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector, fields: FieldMap
) -> None:
    fake.set_lead(account_id, 7001, 5000, location_enum_id=fields.location_options["loc-kazan-1"])
    form = fake.webhook_form(account_id, 7001, "status")
    mapping: dict[str, list[str]] = {}
    for key, value in form:
        mapping.setdefault(key, []).append(value)

    events = connector.parse_webhook(mapping)

    assert [(e.kind, e.account_id, e.lead_id) for e in events] == [
        ("lead_status", account_id, 7001)
    ]
