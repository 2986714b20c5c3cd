"""Claiming an amoCRM account installed from the marketplace: the widget asks for a single-use code
(only for an unbound account), the owner types it into the panel or signs up with it, and the
account's sealed tokens move into that network, which then creates its lead fields."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.security.models import AuditEntry
from tenants.claims import ALPHABET, CLAIM_CODE_MIN_LEFT, CLAIM_CODE_TTL
from tenants.models import CrmAccountBinding, Network
from tests.crm_sync.conftest import outbox_drain
from tests.personas import platform_client

from .conftest import claim_code_request, signup_body

pytestmark = pytest.mark.django_db

CODE_RE = rf"^[{ALPHABET}]{{3}}-[{ALPHABET}]{{3}}$"


def _binding(account_id: int) -> CrmAccountBinding:
    return CrmAccountBinding.objects.get(account_id=account_id)


# ---- the widget's endpoint -------------------------------------------------------------------


def test_an_unbound_account_gets_a_short_code_stored_only_as_a_hash(amo, unbound_account):
    response = claim_code_request(amo, unbound_account)

    assert response.status_code == 200, response.content
    body = response.json()
    assert re.match(CODE_RE, body["code"])
    assert body["account_id"] == unbound_account
    binding = _binding(unbound_account)
    assert binding.claim_code_hash and body["code"] not in binding.claim_code_hash
    left = binding.claim_code_expires_at - timezone.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


def test_every_manager_sees_the_same_code_while_it_is_fresh(amo, unbound_account):
    first = claim_code_request(amo, unbound_account).json()
    second = claim_code_request(amo, unbound_account).json()
    assert first["code"] == second["code"]


def test_a_code_about_to_expire_is_replaced(amo, unbound_account):
    first = claim_code_request(amo, unbound_account).json()
    later = timezone.now() + CLAIM_CODE_TTL - CLAIM_CODE_MIN_LEFT + timedelta(seconds=5)

    with mock.patch("tenants.claims.timezone.now", return_value=later):
        second = claim_code_request(amo, unbound_account).json()

    assert second["code"] != first["code"]
    assert second["expires_at"] > first["expires_at"]


def test_a_bound_account_gets_no_code(amo, unbound_account, net_a, owner_a):
    code = claim_code_request(amo, unbound_account).json()["code"]
    owner_a.browser_client().post("/panel/integrations/claim/", {"code": code})

    response = claim_code_request(amo, unbound_account)

    assert (response.status_code, response.json()["code"]) == (409, "account_already_bound")


def test_an_account_whose_install_never_arrived_gets_no_code(amo):
    response = claim_code_request(amo, amo.add_account())
    assert (response.status_code, response.json()["code"]) == (409, "install_not_finished")


def test_the_code_needs_a_valid_amocrm_token(amo, unbound_account):
    response = platform_client().post(
        "/api/widget/v1/claim-code", content_type="application/json", HTTP_X_AUTH_TOKEN="x.y.z"
    )
    assert response.status_code == 401
    assert not _binding(unbound_account).claim_code_hash


def _refused_as_non_admin(response, account_id: int) -> None:
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Код может получить только администратор аккаунта amoCRM.",
        "code": "not_account_admin",
    }
    binding = _binding(account_id)
    assert not binding.claim_code_hash and binding.claim_code_expires_at is None


def test_a_manager_gets_no_code(amo, unbound_account):
    manager = amo.accounts[unbound_account].user_id + 1000
    token = amo.make_widget_token(
        unbound_account, aud="http://localhost:8000", user_id=manager, extra={"is_admin": False}
    )
    response = platform_client().post(
        "/api/widget/v1/claim-code", content_type="application/json", HTTP_X_AUTH_TOKEN=token
    )
    _refused_as_non_admin(response, unbound_account)


def test_without_the_is_admin_claim_only_the_installing_admin_gets_a_code(amo, unbound_account):
    installer = amo.accounts[unbound_account].user_id
    assert _binding(unbound_account).installer_user_id == installer

    def ask(user_id: int):
        token = amo.make_widget_token(unbound_account, aud="http://localhost:8000", user_id=user_id)
        return platform_client().post(
            "/api/widget/v1/claim-code", content_type="application/json", HTTP_X_AUTH_TOKEN=token
        )

    _refused_as_non_admin(ask(installer + 1), unbound_account)
    assert ask(installer).status_code == 200


def test_an_explicit_non_admin_is_refused_even_as_the_installer(amo, unbound_account):
    _refused_as_non_admin(claim_code_request(amo, unbound_account, is_admin=False), unbound_account)


def test_links_still_say_the_account_is_not_bound(amo, unbound_account):
    token = amo.make_widget_token(unbound_account, aud="http://localhost:8000")
    response = platform_client().get("/api/widget/v1/leads/7001/links", HTTP_X_AUTH_TOKEN=token)
    assert (response.status_code, response.json()["code"]) == (401, "account_not_bound")


# ---- the panel's claim page ------------------------------------------------------------------


def test_owner_claims_the_account_and_its_fields_are_created(amo, unbound_account, net_a, owner_a):
    code = claim_code_request(amo, unbound_account).json()["code"]

    response = owner_a.browser_client().post(
        "/panel/integrations/claim/", {"code": code.lower().replace("-", " ")}
    )

    assert response.status_code == 302 and response["Location"] == "/panel/integrations/"
    binding = _binding(unbound_account)
    assert binding.state == CrmAccountBinding.State.BOUND
    assert binding.network_id == net_a.network.pk
    assert binding.pending_access_token is None and binding.pending_refresh_token is None
    assert binding.claim_code_hash == ""
    outbox_drain(net_a.network)
    with tenant_context(net_a.network):
        crm = CrmConnection.objects.get(account_id=unbound_account)
        assert crm.status == ConnectionStatus.CONNECTED
        assert crm.refresh_token and crm.field_map
        assert AuditEntry.objects.filter(action="crm.claim").exists()
    # The widget now works for this account.
    token = amo.make_widget_token(unbound_account, aud="http://localhost:8000")
    links = platform_client().get("/api/widget/v1/leads/7001/links", HTTP_X_AUTH_TOKEN=token)
    assert links.json()["code"] != "account_not_bound"


def test_a_code_works_once(amo, unbound_account, net_a, net_b, owner_a, owner_b):
    code = claim_code_request(amo, unbound_account).json()["code"]
    owner_a.browser_client().post("/panel/integrations/claim/", {"code": code})

    second = owner_b.browser_client().post("/panel/integrations/claim/", {"code": code})

    assert second.status_code == 200
    assert "Код не подошёл или устарел" in second.content.decode()
    assert _binding(unbound_account).network_id == net_a.network.pk


def test_a_wrong_or_expired_code_binds_nothing(amo, unbound_account, owner_a):
    code = claim_code_request(amo, unbound_account).json()["code"]
    client = owner_a.browser_client()

    wrong = client.post("/panel/integrations/claim/", {"code": "AAA-AAA"})
    CrmAccountBinding.objects.filter(account_id=unbound_account).update(
        claim_code_expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = client.post("/panel/integrations/claim/", {"code": code})

    for response in (wrong, expired):
        assert "Код не подошёл или устарел" in response.content.decode()
    assert _binding(unbound_account).state == CrmAccountBinding.State.UNBOUND


def test_guessing_is_cut_off_after_ten_tries(amo, unbound_account, owner_a):
    code = claim_code_request(amo, unbound_account).json()["code"]
    client = owner_a.browser_client()
    for _ in range(10):
        client.post("/panel/integrations/claim/", {"code": "AAA-AAA"})

    response = client.post("/panel/integrations/claim/", {"code": code})

    assert "Слишком много попыток" in response.content.decode()
    assert _binding(unbound_account).state == CrmAccountBinding.State.UNBOUND


def test_guessing_through_signup_is_cut_off_too(amo, unbound_account):
    code = claim_code_request(amo, unbound_account).json()["code"]
    for _ in range(10):
        platform_client().post("/signup/", signup_body(claim_code="AAA-AAA"))
    before = Network.objects.count()

    response = platform_client().post("/signup/", signup_body(claim_code=code))

    assert response.status_code == 429
    assert "Слишком много попыток" in response.content.decode()
    assert Network.objects.count() == before
    assert _binding(unbound_account).state == CrmAccountBinding.State.UNBOUND


def test_a_viewer_cannot_claim(amo, unbound_account, viewer_a):
    code = claim_code_request(amo, unbound_account).json()["code"]
    response = viewer_a.browser_client().post("/panel/integrations/claim/", {"code": code})
    assert response.status_code == 403
    assert _binding(unbound_account).state == CrmAccountBinding.State.UNBOUND


def test_the_claim_page_explains_where_the_code_is(owner_a):
    html = owner_a.browser_client().get("/panel/integrations/claim/").content.decode()
    assert "Привязать CRM по коду" in html
    assert 'name="code"' in html


# ---- signing up from the widget --------------------------------------------------------------


def test_signup_with_the_code_binds_the_account_to_the_new_network(amo, unbound_account):
    code = claim_code_request(amo, unbound_account).json()["code"]
    body = signup_body(slug="from-widget", claim_code=code, amocrm_account=str(unbound_account))

    response = platform_client().post("/signup/", body)

    assert response.status_code == 302
    network = Network.objects.get(slug="from-widget")
    binding = _binding(unbound_account)
    assert (binding.state, binding.network_id) == (CrmAccountBinding.State.BOUND, network.pk)
    outbox_drain(network)
    with tenant_context(network):
        assert CrmConnection.objects.get(account_id=unbound_account).field_map


def test_signup_with_a_bad_code_creates_nothing(amo, unbound_account):
    claim_code_request(amo, unbound_account)
    before = Network.objects.count()

    response = platform_client().post(
        "/signup/",
        signup_body(claim_code="AAA-AAA", amocrm_account=str(unbound_account)),
    )

    assert response.status_code == 422
    assert "Код привязки не подошёл" in response.content.decode()
    assert Network.objects.count() == before
    assert _binding(unbound_account).state == CrmAccountBinding.State.UNBOUND


def test_signup_with_another_accounts_code_creates_nothing(amo, unbound_account):
    code = claim_code_request(amo, unbound_account).json()["code"]
    before = Network.objects.count()

    response = platform_client().post(
        "/signup/", signup_body(claim_code=code, amocrm_account="99999999")
    )

    assert response.status_code == 422
    assert Network.objects.count() == before


def test_the_api_signs_up_with_a_code_too(amo, unbound_account):
    code = claim_code_request(amo, unbound_account).json()["code"]

    response = platform_client().post(
        "/api/v1/signup",
        signup_body(slug="api-claim", claim_code=code),
        content_type="application/json",
    )

    assert response.status_code == 201
    assert _binding(unbound_account).network.slug == "api-claim"


def test_an_install_stored_with_a_foreign_host_cannot_be_claimed(amo, unbound_account, net_a):
    """A row written before the strict referer parse: claiming it would carry its host along."""
    from tenants.claims import account_claim
    from tenants.errors import ClaimRefused

    code = claim_code_request(amo, unbound_account).json()["code"]
    CrmAccountBinding.objects.filter(account_id=unbound_account).update(
        base_url="https://evil.example"
    )

    with pytest.raises(ClaimRefused) as caught:
        account_claim(network=net_a.network, code=code, actor="owner@alpha.test")

    assert caught.value.code == "bad_account_host"
    assert _binding(unbound_account).state == "unbound"
    with tenant_context(net_a.network):
        assert not CrmConnection.objects.filter(account_id=unbound_account).exists()


@pytest.mark.parametrize(("crm", "name"), [("bitrix24", "Bitrix24"), ("amocrm", "amoCRM")])
def test_refusals_name_the_accounts_own_crm(crm, name):
    from tenants.claims import ClaimRefused, claim_code_issue
    from tenants.models import CrmAccountBinding

    CrmAccountBinding.objects.create(
        crm=crm,
        account_id="a1b2c3",
        state=CrmAccountBinding.State.UNBOUND,
        pending_refresh_token="refresh",
        installer_user_id=1,
    )

    with pytest.raises(ClaimRefused) as refused:
        claim_code_issue(crm=crm, account_id="a1b2c3", user_id=2, is_admin=False)

    assert refused.value.detail == f"Код может получить только администратор аккаунта {name}."
