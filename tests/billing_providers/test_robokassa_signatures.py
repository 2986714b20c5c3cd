"""Hashes, OutSum formatting and the order of signed parts."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_providers.errors import ProviderConfigError
from billing_providers.robokassa import ripemd160
from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.signatures import (
    fiscal_envelope,
    format_out_sum,
    hex_digest,
    invoice_api_jwt,
    notification_signature_base,
    payment_signature_base,
    signatures_match,
    sort_shp,
)
from tests.billing_providers.factories import ALGORITHMS, make_account, make_request

PAYMENT_BASE = "demo-shop:1500.00:100245:Pa55word1:Shp_plan=pro:Shp_user=42"

# The spec gives MD5 and SHA256 of its payment base; the other four were computed once with
# OpenSSL's hashlib and are pinned here so that a build without RIPEMD-160 still checks them.
SPEC_BASE_DIGESTS = {
    "md5": "c60bac72b1aa1f5c6e5b2fde2c4952ea",
    "ripemd160": "e373c91c143a7bfbbbca1ecc84abd7ab55c93329",
    "sha1": "fa025cf0a03873eb9e3cfe8d796a40b053b37184",
    "sha256": "e0832e6ffe0cb830b9d205b7cfffbe54e3105d4db37a5cd9b50354f3a54afef0",
    "sha384": (
        "4bd277c0ada08bd9febf4cd29df6b714f10cd33caf08a57147ddc8347df9e06c"
        "b78439b5fb065ef794e054220051ac25"
    ),
    "sha512": (
        "c0262a16afed8188464d990bb02b7eef7f8a13e45529300323ec390322d7c5d4"
        "3884f7646c56993dfef2dd4af7f89408cec9f4e91d53254f4288422395f9f35e"
    ),
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_signs_the_spec_base(algorithm):
    assert hex_digest(algorithm, PAYMENT_BASE) == SPEC_BASE_DIGESTS[algorithm]


def test_ripemd160_signs_the_spec_base():
    assert ripemd160.new(PAYMENT_BASE.encode()).hexdigest() == SPEC_BASE_DIGESTS["ripemd160"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_signs_an_issued_invoice(algorithm):
    account = make_account(hash_algorithm=algorithm.upper())
    issued = RobokassaProvider().issue_invoice(account, make_request())
    assert dict(issued.form_fields)["SignatureValue"] == SPEC_BASE_DIGESTS[algorithm]


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
        (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
        (b"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"),
        (b"a" * 1_000, "aa69deee9a8922e92f8105e007f76110f381e9cf"),
    ],
)
def test_ripemd160_known_answers(data, digest):
    assert ripemd160.new(data).hexdigest() == digest


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_ripemd160_in_chunks_and_copies_agrees_with_one_pass(data, split):
    hasher = ripemd160.new(data[:split])
    hasher.update(data[split:])
    assert hasher.copy().hexdigest() == ripemd160.new(data).hexdigest()


def test_ripemd160_does_not_depend_on_openssl(monkeypatch):
    def no_ripemd(name, data=b""):
        raise ValueError("unsupported hash type ripemd160")

    monkeypatch.setattr(hashlib, "new", no_ripemd)
    assert hex_digest("ripemd160", "abc") == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    # hashlib-compatible: the HMAC of RFC 2286's first case.
    assert (
        hmac.new(b"\x0b" * 20, b"Hi There", ripemd160.new).hexdigest()
        == "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668"
    )


def test_jwt_works_with_every_algorithm():
    for algorithm in ALGORITHMS:
        token = invoice_api_jwt("{}", login="l", password1="p", algorithm=algorithm)
        assert token.count(".") == 2


def test_unknown_algorithm_is_a_config_error():
    with pytest.raises(ProviderConfigError) as caught:
        hex_digest("crc32", "x")
    assert caught.value.code == "unknown_hash_algorithm"
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1500"), "1500.00"),
        (Decimal("1500.0"), "1500.00"),
        (Decimal("1500.5"), "1500.50"),
        (Decimal("0.01"), "0.01"),
        (Decimal("399.00000"), "399.00"),
        (Decimal("1E+3"), "1000.00"),
    ],
)
def test_out_sum_has_two_decimals(amount, text):
    assert format_out_sum(amount) == text


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-1"), Decimal("10.005"), Decimal("NaN"), Decimal("Infinity")]
)
def test_out_sum_refuses_what_cannot_be_billed_exactly(amount):
    with pytest.raises(ProviderConfigError) as caught:
        format_out_sum(amount)
    assert caught.value.code == "bad_amount"


def test_optional_parts_follow_the_documented_order():
    base = payment_signature_base(
        login="L",
        out_sum="1.00",
        inv_id="7",
        password1="P",
        token="TOK",
        fail_url2_method="POST",
        fail_url2="https://f",
        success_url2_method="GET",
        success_url2="https://s",
        result_url2="https://r",
        step_by_step="true",
        receipt="R",
        user_ip="1.2.3.4",
        out_sum_currency="USD",
        shp=[("Shp_b", "2"), ("Shp_a", "1")],
    )
    assert base == (
        "L:1.00:7:USD:1.2.3.4:R:true:https://r:https://s:GET:https://f:POST:TOK:P:Shp_a=1:Shp_b=2"
    )


def test_documented_building_blocks():
    assert payment_signature_base(login="L", out_sum="1.00", inv_id="", password1="P") == (
        "L:1.00::P"
    )
    assert (
        payment_signature_base(login="L", out_sum="1.00", inv_id="5", password1="P", user_ip="ip")
        == "L:1.00:5:ip:P"
    )
    assert (
        payment_signature_base(
            login="L", out_sum="1.00", inv_id="5", password1="P", receipt="R", user_ip="ip"
        )
        == "L:1.00:5:ip:R:P"
    )
    assert (
        notification_signature_base(out_sum="100.26", inv_id="450009", password="P2", shp=[])
        == "100.26:450009:P2"
    )


def test_shp_orderings():
    pairs = [("Shp_b", "1"), ("shp_a", "2"), ("Shp_Z", "3")]
    assert sort_shp(pairs, "ordinal") == [("Shp_Z", "3"), ("Shp_b", "1"), ("shp_a", "2")]
    assert sort_shp(pairs, "casefold") == [("shp_a", "2"), ("Shp_b", "1"), ("Shp_Z", "3")]


def test_signature_comparison_ignores_case_and_survives_garbage():
    assert signatures_match("abcdef", "ABCDEF")
    assert not signatures_match("abcdef", "abcdee")
    assert not signatures_match("abcdef", "äbcdef")
    assert not signatures_match("abcdef", "")


def test_fiscal_envelope_alphabets_differ_only_for_special_bytes():
    ascii_json = '{"a":"b"}'
    assert fiscal_envelope(ascii_json, password1="p", algorithm="md5") == fiscal_envelope(
        ascii_json, password1="p", algorithm="md5", alphabet="standard"
    )
    tricky = '{"a":"~~~???>>>"}'
    urlsafe = fiscal_envelope(tricky, password1="p", algorithm="md5")
    standard = fiscal_envelope(tricky, password1="p", algorithm="md5", alphabet="standard")
    assert urlsafe != standard
    assert "=" not in urlsafe
