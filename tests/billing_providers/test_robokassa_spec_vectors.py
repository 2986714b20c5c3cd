"""Every vector of the spec's worked example (shared/specs/robokassa.md, section 12)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx

from billing_providers.base import PaymentKind
from billing_providers.robokassa.consts import PAYMENT_URL
from billing_providers.robokassa.links import payment_fields, payment_url
from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.receipts import (
    SettlementReceiptRequest,
    build_receipt,
    encode_receipt,
    receipt_json,
    settlement_receipt_body,
)
from billing_providers.robokassa.signatures import (
    b64_unpadded,
    hex_digest,
    invoice_api_jwt,
    notification_signature_base,
    op_state_signature_base,
    payment_signature_base,
)
from tests.billing_providers.factories import (
    LOGIN,
    PASSWORD1,
    PASSWORD2,
    make_account,
    make_receipt,
    make_request,
    vector_account,
)

SHP = [("Shp_user", "42"), ("Shp_plan", "pro")]
PAYMENT_BASE = "demo-shop:1500.00:100245:Pa55word1:Shp_plan=pro:Shp_user=42"
VECTOR_LINK = (
    "https://auth.robokassa.ru/Merchant/Index.aspx?MerchantLogin=demo-shop&OutSum=1500.00"
    "&InvId=100245&Description=Order+100245&Culture=ru&Encoding=utf-8&IsTest=1&Shp_plan=pro"
    "&Shp_user=42&SignatureValue=c60bac72b1aa1f5c6e5b2fde2c4952ea"
)
RECEIPT_JSON = (
    '{"sno":"usn_income","items":[{"name":"Подписка PRO","quantity":1,"sum":1500,'
    '"payment_method":"full_prepayment","payment_object":"service","tax":"none"}]}'
)
RECEIPT_R = (
    "%7B%22sno%22%3A%22usn_income%22%2C%22items%22%3A%5B%7B%22name%22%3A%22%D0%9F%D0%BE%D0%B4"
    "%D0%BF%D0%B8%D1%81%D0%BA%D0%B0%20PRO%22%2C%22quantity%22%3A1%2C%22sum%22%3A1500%2C%22"
    "payment_method%22%3A%22full_prepayment%22%2C%22payment_object%22%3A%22service%22%2C%22"
    "tax%22%3A%22none%22%7D%5D%7D"
)
CALLBACK = {
    "OutSum": "1500.000000",
    "InvId": "100245",
    "Fee": "58.500000",
    "PaymentMethod": "BankCard",
    "IncCurrLabel": "BankCardPSR",
    "Shp_plan": "pro",
    "Shp_user": "42",
    "SignatureValue": "42ABEFA95E515EA4EE4F332388BB1C51",
}


def test_payment_signature_md5_vector():
    base = payment_signature_base(
        login=LOGIN, out_sum="1500.00", inv_id="100245", password1=PASSWORD1, shp=SHP
    )
    assert base == PAYMENT_BASE
    assert hex_digest("md5", base) == "c60bac72b1aa1f5c6e5b2fde2c4952ea"


def test_payment_signature_sha256_vector():
    assert (
        hex_digest("sha256", PAYMENT_BASE)
        == "e0832e6ffe0cb830b9d205b7cfffbe54e3105d4db37a5cd9b50354f3a54afef0"
    )


def test_payment_link_vector():
    fields = payment_fields(
        login=LOGIN,
        out_sum="1500.00",
        inv_id="100245",
        description="Order 100245",
        signature="c60bac72b1aa1f5c6e5b2fde2c4952ea",
        culture="ru",
        is_test=True,
        shp=sorted(SHP),
    )
    assert payment_url(PAYMENT_URL, fields) == VECTOR_LINK


def test_issued_invoice_is_the_vector_link_plus_expiration_date():
    expires = datetime(2029, 1, 16, 9, 0, tzinfo=UTC)
    issued = RobokassaProvider().issue_invoice(vector_account(), make_request(expires_at=expires))

    assert "&ExpirationDate=2029-01-16T12%3A00%3A00%2B03%3A00&" in issued.payment_url
    without_expiration = issued.payment_url.replace(
        "&ExpirationDate=2029-01-16T12%3A00%3A00%2B03%3A00", ""
    )
    assert without_expiration == VECTOR_LINK
    assert issued.is_test is True
    assert issued.amount == Decimal("1500.00")


def test_result_url_vector_is_accepted_and_answered_ok():
    assert (
        notification_signature_base(
            out_sum="1500.000000", inv_id="100245", password=PASSWORD2, shp=SHP
        )
        == "1500.000000:100245:Pa55word2:Shp_plan=pro:Shp_user=42"
    )
    provider = RobokassaProvider()
    account = make_account(secrets={"password2": PASSWORD2})

    verdict = provider.verify_callback(account, CALLBACK, expected_amount=Decimal("1500.00"))

    assert verdict.accepted, verdict.reason
    assert verdict.invoice_id == 100245
    assert verdict.amount == Decimal("1500.00")
    assert verdict.raw_amount == "1500.000000"
    assert dict(verdict.extra) == {"plan": "pro", "user": "42"}
    assert verdict.payment_method == "BankCard"
    assert verdict.fee == Decimal("58.50")
    assert provider.acknowledge(verdict) == ("OK100245", "text/plain")


def test_result_url_vector_with_two_decimal_outsum():
    base = notification_signature_base(
        out_sum="1500.00", inv_id="100245", password=PASSWORD2, shp=SHP
    )
    assert hex_digest("md5", base).upper() == "F8A49A9CA4C68B4071B7604F593DCD88"
    # The six-decimal signature does not fit the reformatted amount: the received string counts.
    reformatted = {**CALLBACK, "OutSum": "1500.00"}
    verdict = RobokassaProvider().verify_callback(
        make_account(secrets={"password2": PASSWORD2}), reformatted, expected_amount=None
    )
    assert verdict.reason_code == "bad_signature"


def test_success_url_vector():
    base = notification_signature_base(
        out_sum="1500.000000", inv_id="100245", password=PASSWORD1, shp=SHP
    )
    assert hex_digest("md5", base).upper() == "704DAE75776A1E112497E434ED9C03B2"
    params = {
        "OutSum": "1500.000000",
        "InvId": "100245",
        "SignatureValue": "704DAE75776A1E112497E434ED9C03B2",
        "Culture": "ru",
        "Shp_plan": "pro",
        "Shp_user": "42",
    }
    verdict = RobokassaProvider().verify_success_redirect(
        make_account(secrets={"password1": PASSWORD1}), params
    )
    assert verdict.accepted


def test_op_state_ext_vector_request():
    base = op_state_signature_base(login=LOGIN, inv_id="100245", password2=PASSWORD2)
    assert base == "demo-shop:100245:Pa55word2"
    assert hex_digest("md5", base) == "e2a30dd8e8ecbbac6825005956fbee86"

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200,
            text="<OperationStateResponse><Result><Code>3</Code></Result></OperationStateResponse>",
        )

    provider = RobokassaProvider(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    provider.fetch_invoice_state(make_account(secrets={"password2": PASSWORD2}), 100245)
    assert seen == [
        "https://auth.robokassa.ru/Merchant/WebService/Service.asmx/OpStateExt"
        "?MerchantLogin=demo-shop&InvoiceID=100245&Signature=e2a30dd8e8ecbbac6825005956fbee86"
    ]


def test_receipt_vector():
    receipt = build_receipt(make_receipt(payment_kind=PaymentKind.FULL))
    assert receipt_json(receipt) == RECEIPT_JSON
    assert encode_receipt(RECEIPT_JSON) == RECEIPT_R
    base = payment_signature_base(
        login=LOGIN,
        out_sum="1500.00",
        inv_id="100245",
        password1=PASSWORD1,
        receipt=RECEIPT_R,
        shp=SHP,
    )
    assert base == f"demo-shop:1500.00:100245:{RECEIPT_R}:Pa55word1:Shp_plan=pro:Shp_user=42"
    assert hex_digest("md5", base) == "cb8f238bf9d40d77528574c3bff7d290"


def test_issued_invoice_with_receipt_matches_vector():
    issued = RobokassaProvider().issue_invoice(
        vector_account(fiscalization=True), make_request(receipt=make_receipt())
    )
    assert issued.receipt_json == RECEIPT_JSON
    fields = dict(issued.form_fields)
    assert fields["Receipt"] == RECEIPT_R  # the POST form value: encoded once
    assert fields["SignatureValue"] == "cb8f238bf9d40d77528574c3bff7d290"
    assert "&Receipt=%257B%2522sno%2522%253A" in issued.payment_url  # GET: encoded twice
    query = dict(parse_qsl(urlsplit(issued.payment_url).query))
    assert query["Receipt"] == RECEIPT_R


def test_invoice_api_jwt_vector():
    payload = (
        '{"MerchantLogin":"demo-shop","InvoiceType":"OneTime","Culture":"ru","InvId":100246,'
        '"OutSum":1500,"Description":"Order 100246","InvoiceItems":[{"Name":"PRO subscription",'
        '"Quantity":1,"Cost":1500,"Tax":"none","PaymentMethod":"full_payment",'
        '"PaymentObject":"service"}]}'
    )
    token = invoice_api_jwt(payload, login=LOGIN, password1=PASSWORD1, algorithm="md5")
    assert token == (
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJNRDUifQ.eyJNZXJjaGFudExvZ2luIjoiZGVtby1zaG9wIiwiSW52b2ljZVR5"
        "cGUiOiJPbmVUaW1lIiwiQ3VsdHVyZSI6InJ1IiwiSW52SWQiOjEwMDI0NiwiT3V0U3VtIjoxNTAwLCJEZXNjcmlw"
        "dGlvbiI6Ik9yZGVyIDEwMDI0NiIsIkludm9pY2VJdGVtcyI6W3siTmFtZSI6IlBSTyBzdWJzY3JpcHRpb24iLCJR"
        "dWFudGl0eSI6MSwiQ29zdCI6MTUwMCwiVGF4Ijoibm9uZSIsIlBheW1lbnRNZXRob2QiOiJmdWxsX3BheW1lbnQi"
        "LCJQYXltZW50T2JqZWN0Ijoic2VydmljZSJ9XX0.mxfFCYgS-oGe4UI0fRdSrA"
    )


SECOND_RECEIPT_BODY = (
    "eyJtZXJjaGFudElkIjoiZGVtby1zaG9wIiwiaWQiOiI5MDAyNDUiLCJvcmlnaW5JZCI6IjEwMDI0NSIsIm9wZXJhdGlv"
    "biI6InNlbGwiLCJzbm8iOiJ1c25faW5jb21lIiwidXJsIjoiaHR0cHM6Ly9zaG9wLmV4YW1wbGUucnUvIiwidG90YWwi"
    "OjE1MDAsIml0ZW1zIjpbeyJuYW1lIjoiUFJPIHN1YnNjcmlwdGlvbiIsInF1YW50aXR5IjoxLCJzdW0iOjE1MDAsInRh"
    "eCI6Im5vbmUiLCJwYXltZW50X21ldGhvZCI6ImZ1bGxfcGF5bWVudCIsInBheW1lbnRfb2JqZWN0Ijoic2VydmljZSJ9"
    "XSwiY2xpZW50Ijp7ImVtYWlsIjoiYnV5ZXJAZXhhbXBsZS5ydSJ9LCJwYXltZW50cyI6W3sidHlwZSI6Miwic3VtIjox"
    "NTAwfV0sInZhdHMiOlt7InR5cGUiOiJub25lIiwic3VtIjowfV19.NmRkOTAzYzk0MWRmN2QxNDA4YzI0OGVhNjcwOGIx"
    "NTI"
)


def test_second_receipt_vector():
    request = SettlementReceiptRequest(
        receipt_id=900245,
        origin_invoice_id=100245,
        tax_system="usn_income",
        vat="none",
        item_name="PRO subscription",
        amount=Decimal("1500.00"),
        site_url="https://shop.example.ru/",
        email="buyer@example.ru",
    )
    body = settlement_receipt_body(
        request, merchant_login=LOGIN, password1=PASSWORD1, algorithm="md5"
    )
    assert body == SECOND_RECEIPT_BODY
    payload_part = body.split(".")[0]
    assert hex_digest("md5", payload_part + PASSWORD1) == "6dd903c941df7d1408c248ea6708b152"


def test_second_receipt_docs_signature_part():
    # The docs' own example: md5(<their body> + "robokassatest") = 3001…, then base64 of the hex.
    assert (
        b64_unpadded(b"3001586201143da4232896c44244bdbb")
        == "MzAwMTU4NjIwMTE0M2RhNDIzMjg5NmM0NDI0NGJkYmI"
    )
