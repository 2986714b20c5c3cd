"""Crafted input is a 4xx in the error shape, with a Russian detail, never a 5xx."""

from __future__ import annotations

import json
import re

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.payments.models import CallbackEvent
from tests.factories import shop
from tests.personas import PASSWORD, platform_client

pytestmark = pytest.mark.django_db

CYRILLIC = re.compile("[а-яА-ЯёЁ]")
BEYOND_BIGINT = "9999999999999999999"  # 19 digits, more than 2**63 - 1


def _client(client):
    client.raise_request_exception = False
    return client


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert CYRILLIC.search(body["detail"]), body
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize("from_snapshot", [True, False], ids=["snapshot", "catalog-clone"])
@pytest.mark.parametrize("slug", ["9rooms", "select", "user", "order"])
def test_signup_takes_a_slug_postgresql_cannot_take_bare(slug, from_snapshot, settings):
    """A leading digit or an SQL keyword is a valid address by the contract: the schema name is
    quoted wherever it reaches SQL, and the network works (made from the template's snapshot or,
    without one, by django-tenants' catalog clone)."""
    settings.TENANT_SNAPSHOT_CREATION = from_snapshot
    response = _client(platform_client()).post(
        "/api/v1/signup",
        {
            "network_name": "Сеть",
            "slug": slug,
            "owner_email": f"owner@{slug}.test",
            "owner_password": PASSWORD,
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content[:300]
    from django.test import Client

    me = Client(HTTP_HOST=response.json()["domain"]).get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {response.json()['api_token']}"
    )
    assert me.status_code == 200, me.content[:300]
    assert me.json()["network"]["slug"] == slug


def test_callback_with_an_inv_id_beyond_bigint_is_refused_and_kept(in_network):
    account = shop()
    client = _client(in_network.anonymous())

    response = client.post(
        f"/callbacks/robokassa/{account.partner_id}/result/",
        {"OutSum": "1500.00", "InvId": BEYOND_BIGINT, "SignatureValue": "0" * 32},
    )

    assert response.status_code == 400, response.content[:300]
    event = CallbackEvent.objects.get()
    assert event.invoice_number is None
    assert not event.accepted


@pytest.mark.parametrize("page", ["success", "fail"])
@pytest.mark.parametrize("inv_id", [BEYOND_BIGINT, "99999999999999999999999", "²", "١٢"])
def test_buyer_pages_with_a_crafted_inv_id_are_neutral(in_network, page, inv_id):
    account = shop()

    response = _client(in_network.anonymous()).get(
        f"/callbacks/robokassa/{account.partner_id}/{page}/", {"InvId": inv_id}
    )

    assert response.status_code == 200, response.content[:300]


def test_payments_since_with_an_offset_postgresql_refuses_is_answered(owner_a):
    response = _client(owner_a.api()).get(
        "/api/v1/payments", {"since": "2026-01-01T00:00:00+20:00"}
    )

    assert response.status_code == 200, response.content[:300]
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+10:00", "9999-12-31T23:59:59-10:00", "вчера"]
)
def test_payments_since_outside_the_calendar_is_422(owner_a, since):
    response = _client(owner_a.api()).get("/api/v1/payments", {"since": since})

    assert_error_shape(response, 422, "validation_error")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payments?partner_id=%00",
        "/api/v1/partners?x=%00",
    ],
)
def test_a_nul_in_the_query_is_400_in_the_error_shape(owner_a, path):
    assert_error_shape(_client(owner_a.api()).get(path), 400, "invalid_characters")


def test_a_nul_in_a_json_string_is_400_and_nothing_is_written(owner_a, net_a):
    from franchise_platform.network.models import Location

    response = _client(owner_a.api()).post(
        "/api/v1/locations",
        '{"name": "a\\u0000b", "partner_id": "00000000-0000-0000-0000-000000000001"}',
        content_type="application/json",
    )

    assert_error_shape(response, 400, "invalid_characters")
    with tenant_context(net_a.network):
        assert not Location.objects.filter(name__startswith="a").exists()


@pytest.mark.parametrize("path", ["/pay/%00", "/panel/login/?next=%00"])
def test_a_nul_on_a_page_is_a_plain_400(net_a, path):
    client = _client(net_a.anonymous())
    client.cookies["sessionid"] = "x"

    response = client.get(path)

    assert response.status_code == 400
    assert CYRILLIC.search(response.content.decode())


def test_a_nul_in_a_callback_form_is_400(in_network):
    account = shop()

    response = _client(in_network.anonymous()).post(
        f"/callbacks/robokassa/{account.partner_id}/result/",
        {"OutSum": "1500.00", "InvId": "1", "SignatureValue": "\x00"},
    )

    assert response.status_code == 400
    assert not CallbackEvent.objects.exists()


def test_an_oversized_body_is_413_in_the_error_shape(owner_a, settings):
    body = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})

    response = _client(owner_a.api()).post(
        "/api/v1/locations", body, content_type="application/json"
    )

    assert_error_shape(response, 413, "body_too_large")


def test_an_unknown_enum_value_is_422_in_russian(owner_a):
    response = _client(owner_a.api()).post(
        "/api/v1/partners",
        {
            "name": "ИП Тест",
            "legal_form": "zao",
            "inn": "500100732259",
            "tax_system": "osn",
            "robokassa": {"merchant_login": "m", "password1": "a", "password2": "b"},
        },
        content_type="application/json",
    )

    body = assert_error_shape(response, 422, "validation_error")
    assert "legal_form" in body["detail"] and "ip" in body["detail"]


def test_a_body_that_is_not_json_is_400_in_russian(owner_a):
    response = _client(owner_a.api()).post(
        "/api/v1/locations", "{", content_type="application/json"
    )

    assert_error_shape(response, 400)


def test_a_path_id_that_is_not_a_uuid_is_422_in_russian(owner_a):
    assert_error_shape(_client(owner_a.api()).get("/api/v1/partners/zzz"), 422)


def test_a_method_the_path_lacks_is_405_in_the_error_shape(owner_a):
    response = _client(owner_a.api()).put("/api/v1/me")

    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_a_malformed_multipart_body_is_400_in_the_error_shape():
    response = _client(platform_client()).post(
        "/api/v1/signup", '{"slug": "x"}', content_type="multipart/form-data"
    )

    assert_error_shape(response, 400, "bad_request")


def test_the_openapi_documents_the_common_errors_on_every_operation(owner_a):
    schema = owner_a.api().get("/api/v1/openapi.json").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"401", "404", "413", "422"} <= set(operation["responses"]), (method, path)


def test_a_nul_in_the_amocrm_webhook_path_is_400_not_a_500():
    response = _client(platform_client()).post(
        "/integrations/amocrm/webhook/ab%00cd/", {"leads[update][0][id]": "1"}
    )

    assert response.status_code == 400


@pytest.mark.parametrize("deal_id", ["99999999999999999999", "-1", "0"])
def test_an_unknown_or_impossible_deal_id_is_404_in_russian(owner_a, deal_id):
    assert_error_shape(_client(owner_a.api()).get(f"/api/v1/deals/{deal_id}"), 404, "not_found")


def test_a_viewer_writing_is_403_in_russian(viewer_a):
    response = _client(viewer_a.api()).post(
        "/api/v1/locations",
        {"name": "x", "partner_id": "00000000-0000-0000-0000-000000000001"},
        content_type="application/json",
    )

    assert_error_shape(response, 403, "forbidden")


@pytest.mark.parametrize("account", ["²", "١٢٣", "99999999999999999999", "-5", "x"])
def test_the_signup_page_with_a_crafted_amocrm_account_is_shown(account):
    response = _client(platform_client()).get("/signup/", {"amocrm_account": account})

    assert response.status_code == 200


def test_a_signup_form_with_an_amocrm_account_beyond_bigint_is_refused_not_a_500():
    response = _client(platform_client()).post(
        "/signup/",
        {
            "network_name": "Сеть",
            "slug": "bigint-acc",
            "owner_email": "owner@bigint-acc.test",
            "owner_password": PASSWORD,
            "amocrm_account": "99999999999999999999",
            "claim_code": "ABCD-EFGH",
        },
    )

    assert response.status_code < 500


@pytest.mark.parametrize("code", ["²²²²²²", "١٢٣٤٥٦"])
def test_a_second_factor_code_of_non_ascii_digits_is_refused_not_a_500(owner_a, net_a, code):
    from tests.accounts.test_login import _enrolled, _login

    _enrolled(owner_a)
    client = _client(net_a.anonymous())
    _login(client, owner_a.email, owner_a.password)

    response = client.post("/panel/login/code/", {"code": code})

    assert response.status_code == 200
    assert client.get("/panel/").status_code == 302


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("/panel/deals/", {"created_to": "9999-12-31"}),
        ("/panel/deals/", {"paid_to": "9999-12-31", "paid_from": "0001-01-01"}),
        ("/panel/payments/", {"paid_to": "9999-12-31"}),
    ],
)
def test_panel_filters_at_the_ends_of_the_calendar_are_shown(owner_a, page, query):
    client = _client(owner_a.browser_client())

    assert client.get(page, query).status_code == 200
