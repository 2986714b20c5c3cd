"""Issuing payment links: fields, test mode, receipts, Shp parameters, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from billing_providers.base import PaymentKind
from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.signatures import hex_digest, payment_signature_base
from tests.billing_providers.factories import (
    ALL_PASSWORDS,
    LOGIN,
    PASSWORD1,
    TEST_PASSWORD1,
    make_account,
    make_receipt,
    make_request,
)


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_live_link_has_every_contract_field():
    expires = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
    issued = RobokassaProvider(payment_url="https://pay.example/Index.aspx").issue_invoice(
        make_account(), make_request(expires_at=expires, email="buyer@example.ru")
    )
    assert issued.payment_url.startswith("https://pay.example/Index.aspx?")
    assert [name for name, _ in _query(issued.payment_url)] == [
        "MerchantLogin",
        "OutSum",
        "InvId",
        "Description",
        "Culture",
        "Encoding",
        "ExpirationDate",
        "Email",
        "Shp_plan",
        "Shp_user",
        "SignatureValue",
    ]
    fields = dict(_query(issued.payment_url))
    assert fields["MerchantLogin"] == LOGIN
    assert fields["OutSum"] == "1500.00"
    assert fields["InvId"] == "100245"
    assert fields["Encoding"] == "utf-8"
    assert fields["Culture"] == "ru"
    assert fields["ExpirationDate"] == "2030-05-01T12:30:00+03:00"  # Moscow time, with offset
    assert "IsTest" not in fields
    assert fields["SignatureValue"] == hex_digest(
        "md5", f"{LOGIN}:1500.00:100245:{PASSWORD1}:Shp_plan=pro:Shp_user=42"
    )
    assert issued.is_test is False
    assert issued.receipt_json is None
    assert issued.expires_at == expires
    assert issued.form_action == "https://pay.example/Index.aspx"
    assert list(issued.form_fields) == _query(issued.payment_url)


def test_test_mode_uses_test_password_and_is_test_flag():
    issued = RobokassaProvider().issue_invoice(make_account(test_mode=True), make_request())
    fields = dict(issued.form_fields)
    assert fields["IsTest"] == "1"
    assert fields["SignatureValue"] == hex_digest(
        "md5", f"{LOGIN}:1500.00:100245:{TEST_PASSWORD1}:Shp_plan=pro:Shp_user=42"
    )
    assert issued.is_test is True


def test_amount_is_formatted_with_two_decimals():
    issued = RobokassaProvider().issue_invoice(
        make_account(), make_request(amount=Decimal("999.5"), extra={})
    )
    assert dict(issued.form_fields)["OutSum"] == "999.50"
    assert issued.amount == Decimal("999.50")


def test_expiration_in_another_zone_is_converted_to_moscow():
    yekaterinburg = timezone(timedelta(hours=5))
    issued = RobokassaProvider().issue_invoice(
        make_account(),
        make_request(expires_at=datetime(2030, 1, 1, 15, 0, 0, 123456, tzinfo=yekaterinburg)),
    )
    assert dict(issued.form_fields)["ExpirationDate"] == "2030-01-01T13:00:00+03:00"


def test_expiration_timezone_is_configurable():
    issued = RobokassaProvider(expiration_timezone=UTC).issue_invoice(
        make_account(), make_request(expires_at=datetime(2030, 1, 1, 12, tzinfo=UTC))
    )
    assert dict(issued.form_fields)["ExpirationDate"] == "2030-01-01T12:00:00+00:00"


def test_extra_becomes_sorted_shp_parameters():
    issued = RobokassaProvider().issue_invoice(
        make_account(), make_request(extra={"zeta": "1", "alpha": "b-2", "m1": "x.y_z"})
    )
    shp = [(k, v) for k, v in issued.form_fields if k.startswith("Shp_")]
    assert shp == [("Shp_alpha", "b-2"), ("Shp_m1", "x.y_z"), ("Shp_zeta", "1")]
    assert dict(issued.form_fields)["SignatureValue"] == hex_digest(
        "md5",
        f"{LOGIN}:1500.00:100245:{PASSWORD1}:Shp_alpha=b-2:Shp_m1=x.y_z:Shp_zeta=1",
    )


def test_receipt_only_when_fiscalization_is_on():
    provider = RobokassaProvider()
    request = make_request(receipt=make_receipt(payment_kind=PaymentKind.PREPAYMENT))

    plain = provider.issue_invoice(make_account(), request)
    assert "Receipt" not in dict(plain.form_fields)
    assert plain.receipt_json is None

    fiscal = provider.issue_invoice(make_account(fiscalization=True), request)
    fields = dict(fiscal.form_fields)
    assert fiscal.receipt_json is not None
    assert '"payment_method":"prepayment"' in fiscal.receipt_json
    assert fields["SignatureValue"] == hex_digest(
        "md5",
        payment_signature_base(
            login=LOGIN,
            out_sum="1500.00",
            inv_id="100245",
            password1=PASSWORD1,
            receipt=fields["Receipt"],
            shp=[("Shp_plan", "pro"), ("Shp_user", "42")],
        ),
    )
    names = [name for name, _ in fiscal.form_fields]
    assert names.index("Receipt") < names.index("Shp_plan")


def test_description_is_cut_to_100_characters():
    issued = RobokassaProvider().issue_invoice(
        make_account(), make_request(description="Квест " * 40)
    )
    description = dict(issued.form_fields)["Description"]
    assert len(description) == 100
    assert description.startswith("Квест Квест")


def test_payment_url_with_existing_query_gets_an_ampersand():
    issued = RobokassaProvider(payment_url="http://fake/pay?x=1").issue_invoice(
        make_account(), make_request()
    )
    assert issued.payment_url.startswith("http://fake/pay?x=1&MerchantLogin=")


@pytest.mark.parametrize(
    ("account_overrides", "request_overrides", "code"),
    [
        ({"secrets": {}}, {}, "missing_secret"),
        ({"test_mode": True, "secrets": {"password1": "x"}}, {}, "missing_secret"),
        ({"hash_algorithm": "crc32"}, {}, "unknown_hash_algorithm"),
        ({"login": ""}, {}, "missing_login"),
        ({}, {"amount": Decimal("10.001")}, "bad_amount"),
        ({}, {"amount": Decimal("0")}, "bad_amount"),
        ({}, {"invoice_id": 0}, "bad_invoice_id"),
        ({}, {"invoice_id": 2_147_483_648}, "bad_invoice_id"),
        ({}, {"extra": {"Shp_order": "1"}}, "bad_extra"),
        ({}, {"extra": {"order_id": "1"}}, "bad_extra"),
        ({}, {"extra": {"order": "a:b"}}, "bad_extra"),
        ({}, {"extra": {"order": "заказ"}}, "bad_extra"),
        ({}, {"expires_at": datetime(2030, 1, 1)}, "naive_datetime"),
        ({}, {"description": "  "}, "bad_description"),
        ({"fiscalization": True}, {}, "receipt_required"),
        (
            {"fiscalization": True},
            {"receipt": make_receipt(amount=Decimal("1000.00"))},
            "receipt_amount_mismatch",
        ),
    ],
)
def test_refusals_are_config_errors_without_secrets(account_overrides, request_overrides, code):
    with pytest.raises(ProviderConfigError) as caught:
        RobokassaProvider().issue_invoice(
            make_account(**account_overrides), make_request(**request_overrides)
        )
    assert caught.value.code == code
    assert caught.value.permanent is True
    for password in ALL_PASSWORDS:
        assert password not in str(caught.value)
        assert password not in repr(caught.value)


def test_secrets_never_appear_in_reprs():
    account = make_account()
    issued = RobokassaProvider().issue_invoice(account, make_request())
    for text in (repr(account), str(account), repr(issued)):
        for password in ALL_PASSWORDS:
            assert password not in text
    assert "secrets" not in repr(account)


def test_dataclasses_are_frozen_and_copy_their_mappings():
    extra = {"order": "1"}
    request = make_request(extra=extra)
    extra["order"] = "2"
    assert request.extra["order"] == "1"
    with pytest.raises(TypeError):
        request.extra["order"] = "3"  # type: ignore[index]
    with pytest.raises(AttributeError):
        request.amount = Decimal("1")  # type: ignore[misc]
