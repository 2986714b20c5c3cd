"""The widget API called from the deal tab with our frame token: good once, the next one in the
answer; a bad, expired, replayed or other-deal token is 401 {"detail","code"} and changes nothing.
amoCRM's X-Auth-Token keeps working beside it (tests/crm_sync/test_widget_api.py)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from django_tenants.utils import tenant_context

from crm_connectors.app import FrameOpening
from crm_connectors.bitrix24.client import Bitrix24Client
from crm_connectors.registry import card_frame
from franchise_platform.crm_sync.connectors import connector_for
from franchise_platform.crm_sync.frame_auth import frame_audience, frame_token_secret
from franchise_platform.crm_sync.models import CrmConnection
from franchise_platform.crm_sync.sender import fields_ensure
from franchise_platform.payments.models import Deal
from tests.factories import shop
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

HEADER = "HTTP_X_FRAME_TOKEN"


def token_for(member_id: str, deal_id: int, **claims) -> str:
    frame = card_frame("bitrix24")
    token = frame.issue_token(
        FrameOpening(member_id, deal_id, 7, "ru", "https://acme.bitrix24.com"),
        frame_token_secret(),
        frame_audience(),
    )
    if claims:
        body = jwt.decode(token, options={"verify_signature": False})
        body.update(claims)
        token = jwt.encode(body, frame_token_secret(), algorithm="HS256")
    return f"bitrix24:{token}"


def links(deal_id: int, token: str, method: str = "post"):
    client = platform_client()
    path = f"/api/widget/v1/leads/{deal_id}/links"
    if method == "post":
        return client.post(path, "{}", content_type="application/json", **{HEADER: token})
    return client.get(path, **{HEADER: token})


@pytest.fixture
def deal(portal):
    """A deal of 5000 in the portal at a location of a partner with a shop: the location's
    option created in the portal by the network's own connection, as the sender does."""
    with tenant_context(portal.net.network):
        location = shop().partner.locations.get()
        crm = CrmConnection.objects.get(crm="bitrix24", account_id=portal.member_id)
        fields = fields_ensure(crm, connector_for(crm))
    deal_id = portal.b24.add_deal(
        portal.member_id,
        title="Квест на 6 человек",
        opportunity="5000.00",
        UF_CRM_FP_LOCATION=str(fields.location_options[str(location.pk)]),
    )
    return portal, deal_id


def deals(net) -> int:
    with tenant_context(net.network):
        return Deal.objects.filter(crm="bitrix24").count()


def test_the_frame_token_generates_links_and_each_answer_carries_the_next(deal):
    portal, deal_id = deal
    first = token_for(portal.member_id, deal_id)

    response = links(deal_id, first)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead_id"] == deal_id  # the portal's deal, read through its connection
    assert {link["kind"]: link["amount"] for link in body["links"]} == {
        "prepayment": "1500.00",
        "full": "5000.00",
    }
    following = response["X-Frame-Token"]
    assert following and following != first
    again = links(deal_id, following, method="get")
    assert again.status_code == 200
    assert again.json()["links"] == body["links"]
    assert again["X-Frame-Token"] not in (first, following)


def test_a_replayed_frame_token_is_refused(deal):
    portal, deal_id = deal
    token = token_for(portal.member_id, deal_id)
    assert links(deal_id, token).status_code == 200
    count = deals(portal.net)

    response = links(deal_id, token)

    assert response.status_code == 401
    assert response.json()["code"] == "token_replayed"
    assert "detail" in response.json()
    assert "X-Frame-Token" not in response
    assert deals(portal.net) == count


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda m, d: token_for(m, d, exp=int(time.time()) - 60), "token_expired"),
        (lambda m, d: token_for(m, d)[:-4] + "AAAA", "token_bad_signature"),
        (lambda m, d: token_for(m, d, aud="https://elsewhere.example"), "token_wrong_audience"),
        (lambda m, d: token_for(m, d + 2), "token_wrong_deal"),
        (lambda m, d: token_for(m, d, exp=int(time.time()) + 86_400), "token_too_long_lived"),
        (lambda m, d: "not-a-token", "token_malformed"),
        (lambda m, d: "amocrm:" + token_for(m, d).partition(":")[2], "token_malformed"),
        (lambda m, d: token_for(m, d).partition(":")[2], "token_malformed"),
        (lambda m, d: "", "token_malformed"),
        (lambda m, d: token_for("0" * 32, d), "account_not_bound"),
    ],
)
def test_a_bad_frame_token_is_401_and_writes_nothing(deal, make, code):
    portal, deal_id = deal

    response = links(deal_id, make(portal.member_id, deal_id))

    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert deals(portal.net) == 0


def test_a_frame_token_is_not_an_amocrm_token(deal):
    """amoCRM's header with a frame token (or no header at all) still goes to amoCRM's check."""
    portal, deal_id = deal
    client = platform_client()
    path = f"/api/widget/v1/leads/{deal_id}/links"

    as_amo = client.post(
        path,
        json.dumps({}),
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=token_for(portal.member_id, deal_id),
    )
    bare = client.post(path, "{}", content_type="application/json")

    assert as_amo.status_code == 401
    assert as_amo.json()["code"].startswith("token_")
    assert bare.status_code == 401
    assert deals(portal.net) == 0


@pytest.fixture
def instant_retries(monkeypatch, b24_server):
    """The client's in-call retries without their waits; the fake's failures gone after."""
    original = Bitrix24Client._backoff

    def backoff(self, attempt, waited, retry_after):
        return None if original(self, attempt, waited, retry_after) is None else 0.0

    monkeypatch.setattr(Bitrix24Client, "_backoff", backoff)
    yield
    with b24_server.lock:
        b24_server.failures.clear()


@pytest.mark.parametrize(
    ("happen", "status", "code", "text"),
    [
        (
            lambda b24, member, deal: b24.delete_deal(member, deal),
            404,
            "lead_not_found",
            "Сделка не найдена в Битрикс24.",
        ),
        (
            lambda b24, member, deal: b24.fail_next(
                50, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests"
            ),
            429,
            "crm_rate_limited",
            "Битрикс24 просит подождать",
        ),
        (
            lambda b24, member, deal: b24.uninstall(member),
            409,
            "crm_revoked",
            "Доступ к Битрикс24 отозван",
        ),
        (
            lambda b24, member, deal: b24.fail_next(50, 500, "INTERNAL_SERVER_ERROR"),
            424,
            "crm_unavailable",
            "Битрикс24 сейчас не отвечает",
        ),
    ],
    ids=["deal_deleted", "query_limit", "uninstalled", "portal_down"],
)
def test_a_crm_failure_is_told_in_the_portals_name(
    deal, instant_retries, happen, status, code, text
):
    portal, deal_id = deal
    happen(portal.b24, portal.member_id, deal_id)

    response = links(deal_id, token_for(portal.member_id, deal_id))

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert text in response.json()["detail"]
    assert "amoCRM" not in response.json()["detail"]
    assert response["X-Frame-Token"]  # the page keeps a token after an error
    assert deals(portal.net) == 0
