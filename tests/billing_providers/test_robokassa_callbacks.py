"""ResultURL verification over the raw received strings, and the OK<InvId> answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.signatures import hex_digest
from tests.billing_providers.factories import (
    ALGORITHMS,
    ALL_PASSWORDS,
    PASSWORD2,
    TEST_PASSWORD2,
    make_account,
)
from tests.fakes.robokassa import result_callback_form

provider = RobokassaProvider()


def _callback(out_sum="1500.000000", inv_id=100245, password=PASSWORD2, **kwargs):
    return result_callback_form(
        out_sum=out_sum,
        inv_id=inv_id,
        password2=password,
        shp=kwargs.pop("shp", {"Shp_plan": "pro", "Shp_user": "42"}),
        **kwargs,
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_accepts_a_genuine_callback_with_every_algorithm(algorithm):
    params = _callback(hash_algorithm=algorithm)
    verdict = provider.verify_callback(
        make_account(hash_algorithm=algorithm), params, expected_amount=Decimal("1500.00")
    )
    assert verdict.accepted, verdict.reason
    assert verdict.is_test is False
    assert verdict.email == "buyer@example.com"
    assert provider.acknowledge(verdict) == ("OK100245", "text/plain")


def test_lowercase_signature_is_accepted():
    params = _callback()
    params["SignatureValue"] = params["SignatureValue"].lower()
    assert provider.verify_callback(make_account(), params, expected_amount=None).accepted


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("1500.000000", Decimal("1500.00")),
        ("1500.00", Decimal("1500")),
        ("1500", Decimal("1500.00")),
        ("0.500000", Decimal("0.50")),
    ],
)
def test_amount_is_compared_numerically(received, expected):
    verdict = provider.verify_callback(
        make_account(), _callback(out_sum=received), expected_amount=expected
    )
    assert verdict.accepted, verdict.reason
    assert verdict.raw_amount == received


def test_amount_mismatch_is_refused_even_with_a_good_signature():
    verdict = provider.verify_callback(
        make_account(), _callback(out_sum="1.000000"), expected_amount=Decimal("1500.00")
    )
    assert not verdict.accepted
    assert verdict.reason_code == "amount_mismatch"
    assert verdict.invoice_id == 100245
    assert verdict.amount == Decimal("1.00")
    assert provider.acknowledge(verdict)[0].startswith("ERROR amount_mismatch")


def test_signature_uses_the_received_string_not_a_reformatted_amount():
    params = _callback(out_sum="1500.000000")
    params["OutSum"] = "1500.00"
    verdict = provider.verify_callback(make_account(), params, expected_amount=None)
    assert verdict.reason_code == "bad_signature"


def test_test_callback_uses_test_password2():
    params = _callback(password=TEST_PASSWORD2, is_test=True)
    verdict = provider.verify_callback(make_account(test_mode=True), params, expected_amount=None)
    assert verdict.accepted, verdict.reason
    assert verdict.is_test is True
    assert verdict.email is None  # not sent in test mode

    signed_live = _callback(password=PASSWORD2, is_test=True)
    refused = provider.verify_callback(
        make_account(test_mode=True), signed_live, expected_amount=None
    )
    assert refused.reason_code == "bad_signature"


def test_live_callback_to_a_test_mode_account_uses_the_live_password():
    verdict = provider.verify_callback(
        make_account(test_mode=True), _callback(), expected_amount=None
    )
    assert verdict.accepted
    assert verdict.is_test is False


def test_test_callback_for_a_live_account_is_refused_by_default():
    params = _callback(password=TEST_PASSWORD2, is_test=True)
    verdict = provider.verify_callback(make_account(), params, expected_amount=None)
    assert verdict.reason_code == "unexpected_test"
    lenient = RobokassaProvider(refuse_test_callbacks_when_live=False)
    assert lenient.verify_callback(make_account(), params, expected_amount=None).accepted


@pytest.mark.parametrize("missing", ["OutSum", "InvId", "SignatureValue"])
def test_missing_fields_are_refused(missing):
    params = _callback()
    del params[missing]
    verdict = provider.verify_callback(make_account(), params, expected_amount=None)
    assert verdict.reason_code == "missing_field"
    assert missing in (verdict.reason or "")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("InvId", "abc", "bad_invoice_id"),
        ("InvId", "0", "bad_invoice_id"),
        ("InvId", "-5", "bad_invoice_id"),
        ("InvId", "١٢٣", "bad_invoice_id"),  # non-ASCII digits
        ("OutSum", "1,5", "bad_amount"),
        ("OutSum", "NaN", "bad_amount"),
        ("OutSum", "1e3", "bad_amount"),
        ("OutSum", " 1500", "bad_amount"),
        ("OutSum", "0.000000", "bad_amount"),
        ("SignatureValue", "ЖЖЖ", "bad_signature"),
        ("SignatureValue", "x" * 10_000, "bad_signature"),
    ],
)
def test_malformed_fields_are_refused_without_raising(field, value, code):
    params = _callback()
    params[field] = value
    verdict = provider.verify_callback(make_account(), params, expected_amount=Decimal("1500"))
    assert not verdict.accepted
    assert verdict.reason_code == code


def test_missing_password_is_a_refusal_not_an_exception():
    verdict = provider.verify_callback(make_account(secrets={}), _callback(), expected_amount=None)
    assert verdict.reason_code == "not_configured"
    bad_algorithm = provider.verify_callback(
        make_account(hash_algorithm="crc"), _callback(), expected_amount=None
    )
    assert bad_algorithm.reason_code == "not_configured"


def test_shp_keys_are_echoed_without_prefix_and_case_variants_verify():
    # Robokassa may change the key case when echoing (§2.3, UNCERTAIN): rebuilt from the
    # received keys, both orderings are tried.
    params = _callback(shp={"shp_user": "42", "Shp_plan": "pro"})
    verdict = provider.verify_callback(make_account(), params, expected_amount=None)
    assert verdict.accepted
    assert dict(verdict.extra) == {"user": "42", "plan": "pro"}


def test_case_insensitive_shp_ordering_is_accepted_and_can_be_switched_off():
    base = f"1500.000000:100245:{PASSWORD2}:shp_a=1:Shp_B=2"  # case-insensitive order
    params = {
        "OutSum": "1500.000000",
        "InvId": "100245",
        "Shp_B": "2",
        "shp_a": "1",
        "SignatureValue": hex_digest("md5", base).upper(),
    }
    assert provider.verify_callback(make_account(), params, expected_amount=None).accepted
    ordinal_only = RobokassaProvider(callback_shp_orderings=("ordinal",))
    assert not ordinal_only.verify_callback(make_account(), params, expected_amount=None).accepted


def test_callback_invoice_id_is_a_cheap_tolerant_parse():
    assert provider.callback_invoice_id({"InvId": "100245"}) == 100245
    assert provider.callback_invoice_id({}) is None
    assert provider.callback_invoice_id({"InvId": "12a"}) is None
    assert provider.callback_invoice_id({"InvId": ""}) is None


def test_refusals_never_leak_passwords():
    for params in (_callback(password="wrong"), _callback(out_sum="2.00"), {"InvId": "1"}):
        verdict = provider.verify_callback(make_account(), params, expected_amount=Decimal("1500"))
        text = repr(verdict) + provider.acknowledge(verdict)[0]
        for password in ALL_PASSWORDS:
            assert password not in text
