"""The OAuth state is bound to the person (and, from the panel, the browser) who asked for it; a
network holds one amoCRM account, replaced only by its owner after a confirm step, audited; the
widget answers only about the calling account's leads; a suspended network cannot connect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django_tenants.utils import schema_context, tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.security.models import AuditEntry
from tenants.claims import account_claim
from tenants.errors import ClaimRefused
from tenants.models import CrmAccountBinding, Network
from tenants.operations import network_suspend
from tests.personas import platform_client

from .conftest import follow_to_panel, oauth_callback, oauth_connect

pytestmark = pytest.mark.django_db

CALLBACK = "/integrations/amocrm/oauth/callback/"


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def panel_state(browser, *, replace: bool = False) -> str:
    data = {"replace": "1", "confirm": "1"} if replace else {}
    response = browser.post("/panel/integrations/amocrm/connect/", data)
    assert response.status_code == 302, response.content.decode()
    return state_of(response["Location"])


def nothing_bound(account_id: int) -> bool:
    return not CrmAccountBinding.objects.filter(account_id=account_id, state="bound").exists()


# ---- the state belongs to the person and the browser that asked -------------------------------


def test_the_person_who_asked_finishes_in_their_own_browser(net_a, amo):
    account_id = amo.add_account()
    browser = net_a.owner.browser_client()

    response = oauth_callback(net_a.owner, amo, account_id, panel_state(browser), browser=browser)

    assert response.status_code == 200, response.content.decode()
    binding = CrmAccountBinding.objects.get(account_id=account_id)
    assert (binding.state, binding.network_id) == ("bound", net_a.network.pk)
    with tenant_context(net_a.network):
        entry = AuditEntry.objects.get(action="crm.connect")
        assert entry.actor == net_a.owner.email


def test_the_callback_alone_binds_nothing(net_b, amo):
    """An attacker's authorize URL opened by the admin of another amoCRM account: amoCRM sends
    that admin's browser back with a code for their account and the attacker's state."""
    victim_account = amo.add_account()
    attacker_state = panel_state(net_b.owner.browser_client())

    callback = platform_client().get(
        CALLBACK,
        {
            "code": amo.authorize(victim_account),
            "state": attacker_state,
            "referer": f"{amo.accounts[victim_account].subdomain}.amocrm.ru",
        },
    )

    assert callback.status_code == 302
    assert callback["Location"].startswith(f"http://{net_b.host}:8000/panel/integrations/")
    assert nothing_bound(victim_account)
    # The victim's browser has no session in the attacker's network: it is asked to sign in.
    landed = follow_to_panel(net_b.anonymous(), callback["Location"])
    assert landed.status_code == 302 and "/login" in landed["Location"]
    assert nothing_bound(victim_account)
    assert not amo.webhooks(victim_account)


def test_another_member_of_the_network_cannot_finish_someone_elses_state(net_b, amo):
    victim_account = amo.add_account()
    state = panel_state(net_b.owner.browser_client())

    response = oauth_callback(
        net_b.owner, amo, victim_account, state, browser=net_b.admin.browser_client()
    )

    assert response.status_code == 400
    assert "другой человек" in response.content.decode()
    assert nothing_bound(victim_account)


def test_the_same_person_in_another_browser_cannot_finish(net_a, amo):
    account_id = amo.add_account()
    state = panel_state(net_a.owner.browser_client())

    response = oauth_callback(
        net_a.owner, amo, account_id, state, browser=net_a.owner.browser_client()
    )

    assert response.status_code == 400
    assert "другом браузере" in response.content.decode()
    assert nothing_bound(account_id)


def test_a_state_of_one_network_cannot_finish_in_another(net_a, net_b, amo):
    account_id = amo.add_account()
    state = panel_state(net_b.owner.browser_client())
    callback = platform_client().get(
        CALLBACK,
        {
            "code": amo.authorize(account_id),
            "state": state,
            "referer": f"{amo.accounts[account_id].subdomain}.amocrm.ru",
        },
    )
    path = urlsplit(callback["Location"])
    response = net_a.owner.browser_client().get(path.path + "?" + path.query)

    assert response.status_code == 400
    assert nothing_bound(account_id)


# ---- one network, one account; replacing it is the owner's confirmed, audited act -------------


def test_a_second_account_does_not_silently_replace_the_first(connected, amo):
    net, first, _ = connected
    second = amo.add_account()

    response = oauth_connect(net.owner, amo, second)

    assert response.status_code == 400
    assert "Заменить аккаунт" in response.content.decode()
    assert nothing_bound(second)
    assert CrmAccountBinding.objects.get(account_id=first).state == "bound"
    with tenant_context(net.network):
        assert not CrmConnection.objects.filter(account_id=second).exists()
        assert CrmConnection.objects.get(account_id=first).status == ConnectionStatus.CONNECTED


def test_reconnecting_the_same_account_needs_no_confirmation(connected, amo):
    net, account_id, _ = connected
    assert oauth_connect(net.owner, amo, account_id).status_code == 200
    assert CrmAccountBinding.objects.get(account_id=account_id).state == "bound"


def test_the_owner_replaces_the_account_after_confirming(connected, amo):
    net, first, _ = connected
    second = amo.add_account()
    browser = net.owner.browser_client()

    confirm = browser.get("/panel/integrations/amocrm/replace/")
    assert confirm.status_code == 200
    assert 'name="confirm"' in confirm.content.decode()
    # Without the tick the panel asks for a plain connect, which is refused at the end.
    refused = oauth_callback(net.owner, amo, second, panel_state(browser), browser=browser)
    assert refused.status_code == 400 and nothing_bound(second)

    response = oauth_callback(
        net.owner, amo, second, panel_state(browser, replace=True), browser=browser
    )

    assert response.status_code == 200, response.content.decode()
    assert CrmAccountBinding.objects.get(account_id=second).state == "bound"
    assert CrmAccountBinding.objects.get(account_id=first).state == "revoked"
    with tenant_context(net.network):
        old = CrmConnection.objects.get(account_id=first)
        assert old.status == ConnectionStatus.REVOKED and not old.refresh_token
        entry = AuditEntry.objects.get(action="crm.replace")
        assert entry.actor == net.owner.email
        assert entry.changes["account_id"] == [str(first), str(second)]
    # The old account's widget no longer reaches this network.
    token = amo.make_widget_token(first, aud="http://localhost:8000")
    answer = platform_client().get("/api/widget/v1/leads/7001/links", HTTP_X_AUTH_TOKEN=token)
    assert (answer.status_code, answer.json()["code"]) == (401, "account_not_bound")


def test_an_admin_cannot_replace_the_account(connected, amo):
    net, first, _ = connected
    admin = net.admin.browser_client()

    assert admin.get("/panel/integrations/amocrm/replace/").status_code == 403
    response = admin.post("/panel/integrations/amocrm/connect/", {"replace": "1", "confirm": "1"})
    assert response.status_code == 403
    assert CrmAccountBinding.objects.get(account_id=first).state == "bound"


def test_the_database_holds_one_bound_account_per_network(connected):
    from django.db import IntegrityError, transaction

    net, _, _ = connected
    with pytest.raises(IntegrityError), transaction.atomic():
        CrmAccountBinding.objects.create(account_id=999_001, network=net.network, state="bound")


# ---- the widget answers only about the calling account's leads ---------------------------------


def test_the_widget_reads_only_the_calling_accounts_leads(connected, amo):
    """A network whose connected account is not the caller's (rows from before one network held
    one account): the caller's token must not read the other account's lead of the same id."""
    net, first, _ = connected
    second = amo.add_account()
    amo.set_lead(first, 7001, 5000, name="Чужая сделка")
    CrmAccountBinding.objects.filter(account_id=first).update(state="revoked")
    CrmAccountBinding.objects.create(account_id=second, network=net.network, state="bound")

    token = amo.make_widget_token(second, aud="http://localhost:8000")
    response = platform_client().post(
        "/api/widget/v1/leads/7001/links", content_type="application/json", HTTP_X_AUTH_TOKEN=token
    )

    assert response.status_code == 409
    assert response.json()["code"] == "crm_revoked"


# ---- a suspended network cannot connect or claim -----------------------------------------------


@pytest.fixture
def suspended(net_a, amo):
    """Network A, whose owner asked for a state just before the operator suspended it (the test's
    transaction rolls the suspension back)."""
    browser = net_a.owner.browser_client()
    state = panel_state(browser)
    network_suspend(
        network=Network.objects.get(pk=net_a.network.pk), actor="operator@platform.test"
    )
    return net_a, browser, state


def test_a_suspended_network_cannot_start_a_connect(suspended):
    net, browser, _ = suspended

    assert net.owner.api().post("/api/v1/crm/amocrm/connect").status_code == 403
    assert browser.post("/panel/integrations/amocrm/connect/").status_code == 403


def test_a_suspended_network_cannot_complete_a_connect(suspended, amo):
    net, browser, state = suspended
    account_id = amo.add_account()

    callback = platform_client().get(
        CALLBACK,
        {
            "code": amo.authorize(account_id),
            "state": state,
            "referer": f"{amo.accounts[account_id].subdomain}.amocrm.ru",
        },
    )
    assert callback.status_code == 400
    assert "приостановлена" in callback.content.decode()
    # Nor through the panel's finish page, even with the address in hand.
    finish = browser.get(
        "/panel/integrations/amocrm/finish/",
        {"code": amo.authorize(account_id), "state": state, "referer": "x.amocrm.ru"},
    )
    assert finish.status_code == 403
    assert nothing_bound(account_id)


def test_a_suspended_network_cannot_claim(suspended, amo):
    from tests.onboarding.conftest import claim_code_request

    net, browser, _ = suspended
    account_id = amo.add_account()
    code = amo.authorize(account_id)
    from franchise_platform.crm_sync.installs import pending_install_exchange
    from tenants.models import PendingInstall

    with schema_context("public"):
        pending = PendingInstall.objects.create(
            code=code, referer=f"{amo.accounts[account_id].subdomain}.amocrm.ru"
        )
    pending_install_exchange(pending_id=str(pending.pk))
    issued = claim_code_request(amo, account_id).json()["code"]

    with pytest.raises(ClaimRefused) as caught:
        account_claim(
            network=Network.objects.get(pk=net.network.pk), code=issued, actor=net.owner.email
        )
    assert caught.value.code == "network_suspended"
    assert browser.post("/panel/integrations/claim/", {"code": issued}).status_code == 403
    assert CrmAccountBinding.objects.get(account_id=account_id).state == "unbound"
    with tenant_context(net.network):
        assert not CrmConnection.objects.filter(account_id=account_id).exists()
