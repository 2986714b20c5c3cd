"""OpStateExt through the client: XML parsing, state and result codes, transport failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from billing_providers.base import InvoiceStatus
from billing_providers.errors import (
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.robokassa.client import parse_datetime
from billing_providers.robokassa.provider import RobokassaProvider
from tests.billing_providers.factories import ALL_PASSWORDS, make_account

MSK = timezone(timedelta(hours=3))

PAID_XML = """<?xml version="1.0" encoding="utf-8"?>
<OperationStateResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns="http://merchant.roboxchange.com/WebService/">
  <Result><Code>0</Code><Description/></Result>
  <State>
    <Code>{state}</Code>
    <RequestDate>2010-10-05T23:45:53.9363413+04:00</RequestDate>
    <StateDate>2010-09-02T06:42:39.1930000+04:00</StateDate>
  </State>
  <Info>
    <IncCurrLabel>BankCardPSR</IncCurrLabel>
    <IncSum>100.000000</IncSum>
    <IncAccount>220220******1234</IncAccount>
    <PaymentMethod><Code>BankCard</Code><Description>Банковская карта</Description></PaymentMethod>
    <OutCurrLabel>RUR</OutCurrLabel>
    <OutSum>100.000000</OutSum>
    <OpKey>OPKEY-1</OpKey>
  </Info>
  <{user}><Field><Name>shp_order</Name><Value>42</Value></Field></{user}>
</OperationStateResponse>"""

RESULT_XML = (
    '<OperationStateResponse xmlns="http://merchant.roboxchange.com/WebService/">'
    "<Result><Code>{code}</Code><Description>text</Description></Result>"
    "</OperationStateResponse>"
)


def _provider(respond, **options) -> RobokassaProvider:
    transport = httpx.MockTransport(respond)
    return RobokassaProvider(http_client=httpx.Client(transport=transport), **options)


def _answer(text: str, status: int = 200):
    return lambda request: httpx.Response(status, text=text)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("5", InvoiceStatus.PENDING),
        ("10", InvoiceStatus.CANCELLED),
        ("20", InvoiceStatus.HELD),
        ("50", InvoiceStatus.PROCESSING),
        ("60", InvoiceStatus.REFUNDED),
        ("80", InvoiceStatus.SUSPENDED),
        ("100", InvoiceStatus.PAID),
        ("77", InvoiceStatus.UNKNOWN),
    ],
)
def test_state_codes_map_to_statuses(state, status):
    provider = _provider(_answer(PAID_XML.format(state=state, user="UserField")))
    result = provider.fetch_invoice_state(make_account(), 100245)
    assert result.status is status
    assert result.raw_code == state
    assert result.amount == Decimal("100.00")
    state_date = datetime(2010, 9, 2, 6, 42, 39, 193000, tzinfo=timezone(timedelta(hours=4)))
    assert result.state_date == state_date
    assert result.paid_at == (state_date if status is InvoiceStatus.PAID else None)


def test_paid_answer_details_and_user_fields_under_either_name():
    for user in ("UserField", "UserFields"):
        provider = _provider(_answer(PAID_XML.format(state="100", user=user)))
        result = provider.fetch_invoice_state(make_account(), 100245)
        assert result.invoice_id == 100245
        assert result.payment_method == "BankCard"
        assert result.operation_key == "OPKEY-1"
        assert dict(result.extra) == {"shp_order": "42"}


def test_answer_without_namespace_is_parsed_too():
    xml = PAID_XML.format(state="100", user="UserField").replace(
        'xmlns="http://merchant.roboxchange.com/WebService/"', ""
    )
    result = _provider(_answer(xml)).fetch_invoice_state(make_account(), 1)
    assert result.status is InvoiceStatus.PAID


def test_no_operation_is_not_found():
    result = _provider(_answer(RESULT_XML.format(code=3))).fetch_invoice_state(make_account(), 7)
    assert result.status is InvoiceStatus.NOT_FOUND
    assert result.amount is None


@pytest.mark.parametrize(
    ("code", "error", "error_code", "permanent"),
    [
        (1, ProviderConfigError, "bad_signature", True),
        (2, ProviderConfigError, "shop_not_found", True),
        (4, ProviderResponseError, "duplicate_invoice", True),
        (1000, ProviderUnavailable, "internal", False),
        (999, ProviderResponseError, "unexpected_result", True),
    ],
)
def test_result_codes_become_errors(code, error, error_code, permanent):
    provider = _provider(_answer(RESULT_XML.format(code=code)))
    with pytest.raises(error) as caught:
        provider.fetch_invoice_state(make_account(), 7)
    assert caught.value.code == error_code
    assert caught.value.permanent is permanent


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_retryable(status):
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(_answer("oops", status)).fetch_invoice_state(make_account(), 7)
    assert caught.value.permanent is False


def test_client_errors_are_response_errors():
    with pytest.raises(ProviderResponseError):
        _provider(_answer("not found", 404)).fetch_invoice_state(make_account(), 7)


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network_error"),
        (httpx.RemoteProtocolError("eof"), "network_error"),
    ],
)
def test_network_failures_are_unavailable_without_leaking_the_signed_url(exception, code):
    def respond(request):
        raise exception

    with pytest.raises(ProviderUnavailable) as caught:
        _provider(respond).fetch_invoice_state(make_account(), 7)
    assert caught.value.code == code
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    assert "Signature" not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "<html>maintenance</html>",
        "not xml at all",
        "<OperationStateResponse><Result/></OperationStateResponse>",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><OperationStateResponse/>',
    ],
)
def test_unusable_answers_are_response_errors(body):
    with pytest.raises(ProviderResponseError) as caught:
        _provider(_answer(body)).fetch_invoice_state(make_account(), 7)
    assert caught.value.code == "bad_xml"


def test_request_is_signed_with_password2_and_can_use_post():
    seen: list[httpx.Request] = []

    def respond(request):
        seen.append(request)
        return httpx.Response(200, text=RESULT_XML.format(code=3))

    _provider(respond, op_state_method="POST").fetch_invoice_state(make_account(), 100245)
    assert seen[0].method == "POST"
    assert seen[0].content == (
        b"MerchantLogin=demo-shop&InvoiceID=100245&Signature=e2a30dd8e8ecbbac6825005956fbee86"
    )


def test_test_mode_signs_with_live_password2_unless_configured():
    seen: list[str] = []

    def respond(request):
        seen.append(request.url.params["Signature"])
        return httpx.Response(200, text=RESULT_XML.format(code=3))

    account = make_account(test_mode=True)
    _provider(respond).fetch_invoice_state(account, 100245)
    _provider(respond, op_state_test_passwords=True).fetch_invoice_state(account, 100245)
    assert seen[0] == "e2a30dd8e8ecbbac6825005956fbee86"
    assert seen[1] != seen[0]


def test_missing_password2_is_a_config_error():
    with pytest.raises(ProviderConfigError) as caught:
        _provider(_answer("")).fetch_invoice_state(make_account(secrets={"password1": "x"}), 1)
    assert caught.value.code == "missing_secret"
    for password in ALL_PASSWORDS:
        assert password not in str(caught.value)


def test_timeout_option_reaches_the_request():
    seen: list[dict] = []

    def respond(request):
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, text=RESULT_XML.format(code=3))

    _provider(respond, timeout=2.5).fetch_invoice_state(make_account(), 1)
    assert seen[0]["read"] == 2.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2010-10-05T23:45:53.9363413+04:00", "2010-10-05T23:45:53.936341+04:00"),
        ("2010-10-05T23:45:53+04:00", "2010-10-05T23:45:53+04:00"),
        ("2010-10-05T23:45:53.5Z", "2010-10-05T23:45:53.500000+00:00"),
        ("2010-10-05T23:45:53", "2010-10-05T23:45:53+03:00"),  # no zone: Moscow
    ],
)
def test_robokassa_datetimes(raw, expected):
    assert parse_datetime(raw) == datetime.fromisoformat(expected)


def test_unparsable_datetimes_are_none():
    assert parse_datetime("yesterday") is None
    assert parse_datetime("2010-13-45T99:99:99") is None
    assert parse_datetime(None) is None
