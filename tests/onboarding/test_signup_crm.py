"""Networks choose their CRM (issue 17 item 4): at sign-up (the form and POST /api/v1/signup's
optional `crm`), with a claim code of a Bitrix24 install binding the portal to the new network,
and in the panel while no account is connected."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from tenants.claims import claim_code_issue
from tenants.models import CrmAccountBinding, Network
from tests.crm_sync.conftest import b24, b24_server  # noqa: F401
from tests.personas import platform_client

from .conftest import signup_body

pytestmark = pytest.mark.django_db

JSON_ERROR = {"detail", "code"}
INSTALL = "/integrations/bitrix24/install/"


def api_signup(**overrides):
    return platform_client().post(
        "/api/v1/signup", signup_body(**overrides), content_type="application/json"
    )


def installed_portal(b24) -> str:  # noqa: F811
    member_id = b24.add_portal(domain=f"s{len(b24.portals)}.bitrix24.com")
    response = platform_client().post(
        INSTALL, b24.install_callback(member_id), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    return member_id


# ---- the API ----------------------------------------------------------------------------------


def test_the_api_defaults_to_amocrm_as_before():
    response = api_signup(slug="crm-default")

    assert response.status_code == 201, response.content
    assert Network.objects.get(slug="crm-default").crm == "amocrm"


def test_the_api_stores_the_chosen_crm():
    response = api_signup(slug="crm-b24", crm="bitrix24")

    assert response.status_code == 201, response.content
    assert Network.objects.get(slug="crm-b24").crm == "bitrix24"


@pytest.mark.parametrize("crm", ["salesforce", "", "BITRIX24 ", "dummy", 5, ["amocrm"]])
def test_an_unknown_crm_is_422_and_creates_nothing(crm):
    response = api_signup(slug="crm-bad", crm=crm)

    assert response.status_code == 422, response.content
    assert set(response.json()) == JSON_ERROR
    assert not Network.objects.filter(slug="crm-bad").exists()


def test_the_dummy_crm_is_offered_only_with_the_demo_sandbox(settings):
    settings.DEMO_SANDBOX = True
    assert api_signup(slug="crm-dummy", crm="dummy").status_code == 201


def test_a_bitrix24_claim_code_binds_the_portal_to_the_new_network(b24):  # noqa: F811
    member_id = installed_portal(b24)
    code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)

    response = api_signup(slug="crm-claimed", claim_code=code.code)

    assert response.status_code == 201, response.content
    network = Network.objects.get(slug="crm-claimed")
    # No `crm` sent: the code says which CRM the account is in.
    assert network.crm == "bitrix24"
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.state == CrmAccountBinding.State.BOUND and binding.network == network
    with tenant_context(network):
        assert CrmConnection.objects.get().status == ConnectionStatus.CONNECTED


def test_a_claim_code_of_another_crm_than_the_one_asked_for_is_refused(b24):  # noqa: F811
    member_id = installed_portal(b24)
    code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)

    response = api_signup(slug="crm-mismatch", crm="amocrm", claim_code=code.code)

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "crm_mismatch"
    assert not Network.objects.filter(slug="crm-mismatch").exists()
    # The code is not spent: the right sign-up can still use it.
    assert api_signup(slug="crm-right", crm="bitrix24", claim_code=code.code).status_code == 201
    assert CrmAccountBinding.objects.get(account_id=member_id).network.slug == "crm-right"


def test_a_bitrix24_code_works_once(b24):  # noqa: F811
    member_id = installed_portal(b24)
    code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
    assert api_signup(slug="crm-once", claim_code=code.code).status_code == 201

    again = api_signup(slug="crm-twice", claim_code=code.code)

    assert again.status_code == 422 and again.json()["code"] == "claim_code_invalid"
    assert not Network.objects.filter(slug="crm-twice").exists()


# ---- the form ---------------------------------------------------------------------------------


def test_the_form_offers_the_registrys_crms_amocrm_first():
    page = platform_client().get("/signup/").content.decode()

    assert 'name="crm" value="amocrm"' in page and 'name="crm" value="bitrix24"' in page
    assert page.index('value="amocrm"') < page.index('value="bitrix24"')
    assert 'value="dummy"' not in page


def test_the_bitrix24_apps_link_preselects_it_and_carries_the_code():
    query = urlencode({"crm": "bitrix24", "claim": "7K4-9QX", "subdomain": "kazan-quest"})
    page = platform_client().get(f"/signup/?{query}").content.decode()

    assert 'id="from-bitrix24"' in page
    radios = {m.group(1): m.group(0) for m in re.finditer(r'<input[^>]*value="(\w+)"[^>]*>', page)}
    assert "checked" in radios["bitrix24"] and "checked" not in radios["amocrm"]
    assert 'value="7K4-9QX"' in page


def test_the_form_creates_a_bitrix24_network():
    body = signup_body(slug="crm-form", crm="bitrix24")

    response = platform_client().post("/signup/", body)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Network.objects.get(slug="crm-form").crm == "bitrix24"


def test_the_form_refuses_an_unknown_crm_beside_the_field():
    body = signup_body(slug="crm-form-bad", crm="salesforce")

    response = platform_client().post("/signup/", body)

    assert response.status_code == 422
    field = response.content.decode().split('id="field-crm"')[1].split('id="field-')[0]
    assert 'class="field-error"' in field
    assert not Network.objects.filter(slug="crm-form-bad").exists()
