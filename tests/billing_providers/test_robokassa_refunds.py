"""The Refund API adapter (§8, fiscal.md §3 and §9.1): the token, the wire format, the answers;
and the fake's strictness about the same."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from billing_providers.base import RefundItem, RefundRequest, RefundStatus
from billing_providers.errors import (
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
)
from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.refunds import refund_payload, refund_token
from tests.billing_providers.factories import make_account
from tests.fakes.robokassa import FakeRobokassa

OP_KEY = "0005F891-8CCD-434B-8455-816AFFFDBF37-0VOisWikFF"
NAME = "Квест «Тайна замка», 12.12.2026 19:00"

# fiscal.md §9.1: the full refund of operation A, HS256 with the key Pa55word3.
SPEC_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJPcEtleSI6IjAwMDVGODkxLThDQ0QtNDM0Qi04NDU1LTgxNkFGRkZ"
    "EQkYzNy0wVk9pc1dpa0ZGIiwiSW52b2ljZUl0ZW1zIjpbeyJOYW1lIjoiXHUwNDFhXHUwNDMyXHUwNDM1XHUwNDQxXHU"
    "wNDQyIFx1MDBhYlx1MDQyMlx1MDQzMFx1MDQzOVx1MDQzZFx1MDQzMCBcdTA0MzdcdTA0MzBcdTA0M2NcdTA0M2FcdTA"
    "0MzBcdTAwYmIsIDEyLjEyLjIwMjYgMTk6MDAiLCJRdWFudGl0eSI6MSwiQ29zdCI6MTUwMCwiVGF4Ijoibm9uZSIsIlB"
    "heW1lbnRNZXRob2QiOiJwcmVwYXltZW50IiwiUGF5bWVudE9iamVjdCI6InNlcnZpY2UifV19.kNVc8-xG_I0__h3qYx"
    "KEpStpDlRNBMKoyYOW7-HOaaU"
)


def _full_refund(tax: str = "none") -> RefundRequest:
    return RefundRequest(
        operation_key=OP_KEY,
        amount=Decimal("1500"),
        full=True,
        items=(RefundItem(NAME, Decimal("1500"), tax, "prepayment"),),
    )


def test_the_token_is_the_spec_vector():
    assert refund_token(refund_payload(_full_refund()), "Pa55word3") == SPEC_TOKEN


def test_the_osn_variant_signature_is_the_spec_vector():
    token = refund_token(refund_payload(_full_refund("vat122")), "Pa55word3")
    assert token.rsplit(".", 1)[1] == "7-dAFyTiIQ-fao7JHRKr3madN_NnDJ-Xnn8MIMa1Q54"


def test_a_partial_refund_names_its_sum_and_a_full_one_does_not():
    partial = RefundRequest(operation_key=OP_KEY, amount=Decimal("1499.50"), full=False)
    assert refund_payload(partial) == {"OpKey": OP_KEY, "RefundSum": 1499.5}
    assert "RefundSum" not in refund_payload(_full_refund())


@pytest.mark.parametrize(
    "request_",
    [
        RefundRequest(operation_key="", amount=Decimal("1"), full=True),
        RefundRequest(operation_key=OP_KEY, amount=Decimal("0"), full=False),
        RefundRequest(operation_key=OP_KEY, amount=Decimal("1.005"), full=False),
        RefundRequest(
            operation_key=OP_KEY,
            amount=Decimal("10"),
            full=False,
            items=(RefundItem(NAME, Decimal("9"), "none", "prepayment"),),
        ),
        RefundRequest(
            operation_key=OP_KEY,
            amount=Decimal("10"),
            full=False,
            items=(RefundItem(NAME, Decimal("10"), "vat18", "prepayment"),),
        ),
    ],
)
def test_a_request_robokassa_could_never_accept_is_refused_before_sending(request_):
    with pytest.raises(ProviderConfigError):
        refund_payload(request_)


def _provider(respond) -> tuple[RobokassaProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return RobokassaProvider(http_client=client), seen


def _account(**overrides):
    account = make_account(**overrides)
    return make_account(secrets={**account.secrets, "password3": "Pa55word3"}, **overrides)


def test_create_posts_the_token_as_a_json_string_to_the_refund_service():
    provider, seen = _provider(
        lambda r: httpx.Response(200, json={"success": True, "message": None, "requestId": "g-1"})
    )
    created = provider.refund_create(_account(), _full_refund())

    assert created.request_id == "g-1"
    request = seen[0]
    assert str(request.url) == "https://services.robokassa.ru/RefundService/Refund/Create"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == SPEC_TOKEN


def test_a_refusal_carries_robokassas_reason():
    provider, _ = _provider(
        lambda r: httpx.Response(
            200,
            json={"success": False, "message": "NotEnoughOperationFunds", "requestId": None},
        )
    )
    with pytest.raises(ProviderResponseError) as refused:
        provider.refund_create(_account(), _full_refund())
    assert refused.value.code == "refund_refused"
    assert "NotEnoughOperationFunds" in refused.value.message


def test_without_password3_nothing_is_sent():
    provider, seen = _provider(lambda r: httpx.Response(500))
    with pytest.raises(ProviderConfigError) as missing:
        provider.refund_create(make_account(), _full_refund())
    assert missing.value.code == "missing_secret" and not seen


def test_a_5xx_is_unavailable_not_a_refusal():
    provider, _ = _provider(lambda r: httpx.Response(502))
    with pytest.raises(ProviderUnavailable):
        provider.refund_create(_account(), _full_refund())


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("processing", RefundStatus.PROCESSING),
        ("finished", RefundStatus.FINISHED),
        ("canceled", RefundStatus.CANCELED),
        ("odd", RefundStatus.UNKNOWN),
    ],
)
def test_get_state_labels(label, status):
    provider, seen = _provider(
        lambda r: httpx.Response(
            200, text='{"requestId":"g-1","amount":1.000000,"label":"' + label + '"}'
        )
    )
    state = provider.refund_state(_account(), "g-1")
    assert (state.status, state.amount) == (status, Decimal("1.00"))
    assert seen[0].url.params["id"] == "g-1"


def test_an_unknown_request_id():
    provider, _ = _provider(
        lambda r: httpx.Response(
            200, json={"message": "Id is invalid or request id does not exist"}
        )
    )
    with pytest.raises(ProviderResponseError) as unknown:
        provider.refund_state(_account(), "nope")
    assert unknown.value.code == "refund_not_found"


# --- the fake is as strict as the spec -------------------------------------------------------


@pytest.fixture
def fake():
    with FakeRobokassa() as server:
        server.register_shop("demo-shop", "p1", "p2", password3="Pa55word3")
        server.add_history("demo-shop", 100501, "1500.00")
        server.invoice("demo-shop", 100501).op_key = OP_KEY
        yield server


def _post(fake, body: str, content_type: str = "application/json") -> dict:
    response = httpx.post(
        fake.base_url + "/RefundService/Refund/Create",
        content=body.encode(),
        headers={"Content-Type": content_type},
    )
    return response.json()


def test_the_fake_accepts_the_spec_token_and_finishes_after_processing(fake):
    answer = _post(fake, json.dumps(SPEC_TOKEN))
    assert answer["success"] is True
    state = lambda: httpx.get(  # noqa: E731
        fake.base_url + "/RefundService/Refund/GetState", params={"id": answer["requestId"]}
    ).json()["label"]
    assert state() == "processing"
    assert state() == "finished"
    assert fake.invoice("demo-shop", 100501).state == 60  # everything went back


def test_the_fake_refuses_a_token_signed_with_another_password(fake):
    token = refund_token(refund_payload(_full_refund()), "Pa55word1")
    assert _post(fake, json.dumps(token))["message"] == "InvalidSignature"


def test_the_fake_refuses_a_payload_that_is_not_compact(fake):
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps({"OpKey": OP_KEY}, indent=1).encode())
    sig = b64(hmac.new(b"Pa55word3", f"{header}.{body}".encode(), hashlib.sha256).digest())
    assert _post(fake, json.dumps(f"{header}.{body}.{sig}"))["success"] is False


def test_the_fake_refuses_more_than_is_left(fake):
    half = RefundRequest(operation_key=OP_KEY, amount=Decimal("1000"), full=False)
    assert _post(fake, json.dumps(refund_token(refund_payload(half), "Pa55word3")))["success"]
    again = _post(fake, json.dumps(refund_token(refund_payload(half), "Pa55word3")))
    assert again["message"] == "NotEnoughOperationFunds"


def test_the_fake_answers_an_unknown_request_id_as_the_spec_says(fake):
    answer = httpx.get(
        fake.base_url + "/RefundService/Refund/GetState", params={"id": "nope"}
    ).json()
    assert answer == {"message": "Id is invalid or request id does not exist"}
