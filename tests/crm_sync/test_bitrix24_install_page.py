"""Self-onboarding from a Bitrix24 install (issue 17 item 4): the installer frame an administrator
opens shows, for a portal no network has claimed, the claim code and the sign-up link carrying it;
signing up with it (or typing it in the panel) binds the portal. A non-admin gets no code, a code
works once, installs are rate limited, and the page is framed only by the confirmed portal."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync import installs
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from tenants.claims import ALPHABET
from tenants.models import CrmAccountBinding, Network
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

INSTALL = "/integrations/bitrix24/install/"
CODE_RE = re.compile(rf"id=\"claim-code\">([{ALPHABET}]{{3}}-[{ALPHABET}]{{3}})<")


@pytest.fixture
def member_id(b24):
    return b24.add_portal(domain=f"page{len(b24.portals)}.bitrix24.com")


def open_installer(b24, member_id, *, user_id=1, address="203.0.113.9"):
    query, body = b24.installer_frame(member_id, user_id=user_id)
    return platform_client().post(
        INSTALL + "?" + urlencode(query),
        body,
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR=address,
    )


def page_code(response) -> str:
    match = CODE_RE.search(response.content.decode())
    assert match, response.content.decode()[:3000]
    return match.group(1)


def signup_link(response) -> str:
    html = response.content.decode()
    return unescape(re.search(r'id="signup-link"\s+href="([^"]+)"', html).group(1))


def test_an_admin_sees_the_claim_code_and_the_sign_up_link_carrying_it(b24, member_id):
    response = open_installer(b24, member_id)

    assert response.status_code == 200
    code = page_code(response)
    link = urlsplit(signup_link(response))
    assert f"{link.scheme}://{link.netloc}" == settings.PLATFORM_BASE_URL
    assert link.path == "/signup/"
    assert parse_qs(link.query) == {
        "crm": ["bitrix24"],
        "claim": [code],
        "subdomain": [b24.portal(member_id).domain.split(".")[0]],
    }
    # The portal finishes the install only when told (§1.2 A).
    assert "data-install-finish" in response.content.decode()
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.claim_code_hash and code not in binding.claim_code_hash


def test_the_page_is_framed_by_the_confirmed_portal_only(b24, member_id):
    response = open_installer(b24, member_id)

    csp = response["Content-Security-Policy"]
    assert f"frame-ancestors https://{b24.portal(member_id).domain}" in csp
    assert "X-Frame-Options" not in response
    assert "https://api.bitrix24.com" in csp.split("script-src")[1].split(";")[0]


def test_a_non_admin_gets_no_code_and_nothing_is_stored(b24, member_id):
    b24.portal(member_id).admins.discard(2)

    response = open_installer(b24, member_id, user_id=2)

    assert response.status_code == 403
    assert 'id="install-refused"' in response.content.decode()
    assert not CODE_RE.search(response.content.decode())
    assert not CrmAccountBinding.objects.filter(crm="bitrix24").exists()
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_signing_up_from_the_link_binds_the_portal_and_the_page_then_names_the_network(
    b24, member_id
):
    link = urlsplit(signup_link(open_installer(b24, member_id)))
    form = platform_client().get(f"/signup/?{link.query}").content.decode()
    assert 'id="from-bitrix24"' in form
    code = parse_qs(link.query)["claim"][0]

    response = platform_client().post(
        "/api/v1/signup",
        {
            "network_name": "Сеть из Битрикс24",
            "slug": "from-b24",
            "owner_email": "owner@from-b24.test",
            "owner_password": "Kazan-Quest-2026!",
            "crm": "bitrix24",
            "claim_code": code,
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    network = Network.objects.get(slug="from-b24")
    with tenant_context(network):
        assert CrmConnection.objects.get(account_id=member_id).status == ConnectionStatus.CONNECTED
    again = open_installer(b24, member_id)
    assert again.status_code == 200
    assert 'id="install-bound"' in again.content.decode() and "Сеть из Битрикс24" in unescape(
        again.content.decode()
    )
    assert not CODE_RE.search(again.content.decode())


def test_the_owner_of_an_existing_network_types_the_code_in_the_panel(b24, member_id, net_a):
    code = page_code(open_installer(b24, member_id))
    owner = net_a.owner.browser_client()

    response = owner.post("/panel/integrations/claim/", {"code": code}, follow=True)

    assert "Портал Битрикс24" in response.content.decode()
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.network_id == net_a.network.pk
    assert Network.objects.get(pk=net_a.network.pk).crm == "bitrix24"
    # Single use: the same code binds nothing the second time.
    second = net_a.owner.browser_client().post("/panel/integrations/claim/", {"code": code})
    assert second.status_code == 200 and "field-error" in second.content.decode()


def test_installer_pages_are_rate_limited_and_show_no_code_past_the_budget(
    b24, member_id, settings
):
    settings.BITRIX24_INSTALLS_PER_ACCOUNT_PER_HOUR = 1
    assert open_installer(b24, member_id).status_code == 200

    again = open_installer(b24, member_id)

    assert again.status_code == 429 and not CODE_RE.search(again.content.decode())


def test_the_install_callback_is_still_answered_in_json(b24, member_id):
    response = platform_client().post(
        INSTALL, b24.install_callback(member_id), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200 and response.json() == {"status": "success"}


def _bound_portal(b24, member_id, net_a):
    code = page_code(open_installer(b24, member_id))
    net_a.owner.browser_client().post("/panel/integrations/claim/", {"code": code})
    assert CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id).network_id == (
        net_a.network.pk
    )


def test_reopening_the_installed_app_is_not_a_reinstall(b24, member_id, net_a, monkeypatch):
    _bound_portal(b24, member_id, net_a)
    grants = len(b24.token_grants)
    rebinds = []
    monkeypatch.setattr(installs, "network_bind", lambda **kw: rebinds.append(kw))

    for _ in range(2):
        response = open_installer(b24, member_id)
        assert response.status_code == 200
        html = unescape(response.content.decode())
        assert 'id="install-bound"' in html and net_a.network.name in html

    # Two openings: no token spent, the fields and event bindings not made again.
    assert len(b24.token_grants) == grants
    assert rebinds == []


def test_a_revoked_install_reopened_is_installed_again(b24, member_id, net_a, monkeypatch):
    _bound_portal(b24, member_id, net_a)
    grants = len(b24.token_grants)
    rebinds = []
    monkeypatch.setattr(installs, "network_bind", lambda **kw: rebinds.append(kw))
    with tenant_context(net_a.network):
        CrmConnection.objects.filter(account_id=member_id).update(status=ConnectionStatus.REVOKED)

    assert open_installer(b24, member_id).status_code == 200

    assert len(b24.token_grants) > grants and len(rebinds) == 1


def test_an_opening_with_another_application_token_runs_the_install(b24, member_id, net_a):
    _bound_portal(b24, member_id, net_a)
    grants = len(b24.token_grants)
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    binding.application_token = "0" * 32
    binding.save(update_fields=["application_token"])

    assert open_installer(b24, member_id).status_code == 200

    assert len(b24.token_grants) > grants
