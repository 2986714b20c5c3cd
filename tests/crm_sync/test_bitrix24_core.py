"""The core routed by CRM slug, with Bitrix24 (issue 17) against the strict fake: an install
posted to the platform waits for a claim code, the claimed portal's connection is the network's,
events are believed only with the install's application_token, an uninstall revokes, tokens
rotate once under the row lock; hostile input is a 4xx JSON answer and writes nothing."""

from __future__ import annotations

from unittest import mock
from urllib.parse import parse_qsl, urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.urls import resolve
from django.urls import reverse as django_reverse
from django_tenants.utils import tenant_context

from crm_connectors.bitrix24.connector import Bitrix24Connector
from franchise_platform.crm_sync.catchup import (
    crm_events_catch_up,
    crm_events_catch_up_networks,
    offline_process_id,
)
from franchise_platform.crm_sync.connectors import connector_for
from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.webhooks import webhook_subscribe
from tenants.claims import account_claim, claim_code_issue
from tenants.models import CrmAccountBinding
from tests.personas import platform_client

from .conftest import outbox_drain

pytestmark = pytest.mark.django_db

INSTALL = "/integrations/bitrix24/install/"
JSON_ERROR = {"detail", "code"}
PUBLIC = "franchise_platform.urls_public"


@pytest.fixture
def member_id(b24):
    return b24.add_portal(domain=f"p{len(b24.portals)}.bitrix24.com")


@pytest.fixture
def queued():
    with mock.patch("franchise_platform.crm_sync.tasks.lead_refresh.delay") as delay:
        yield delay


def post_install(body: bytes, query: dict[str, str] | None = None, address: str = "203.0.113.9"):
    path = INSTALL + ("?" + urlencode(query) if query else "")
    return platform_client().post(
        path, body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=address
    )


def post_event(path: str, body: bytes):
    return platform_client().post(path, body, content_type="application/x-www-form-urlencoded")


def with_field(body: bytes, key: str, value: str) -> bytes:
    fields = dict(parse_qsl(body.decode()))
    fields[key] = value
    return urlencode(fields).encode()


def nothing_stored() -> bool:
    return not CrmAccountBinding.objects.filter(crm="bitrix24").exists()


def install_and_claim(b24, member_id, net):
    """The portal's admin installs; the network's owner types the claim code."""
    assert post_install(b24.install_callback(member_id)).status_code == 200
    code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
    account_claim(network=net.network, code=code.code, actor=net.owner.email)
    outbox_drain(net.network)
    with tenant_context(net.network):
        webhook_subscribe()
        return CrmConnection.objects.get(crm="bitrix24", account_id=member_id)


# ---- routing --------------------------------------------------------------------------------


def test_amocrm_addresses_and_names_are_the_same_routes():
    def reverse(name, **kwargs):
        return django_reverse(name, urlconf="franchise_platform.urls_public", **kwargs)

    assert resolve("/integrations/amocrm/webhook/s3/", PUBLIC).func is (
        resolve("/integrations/bitrix24/webhook/s3/", PUBLIC).func
    )
    assert resolve("/integrations/amocrm/webhook/s3/", PUBLIC).kwargs == {
        "crm": "amocrm",
        "secret": "s3",
    }
    assert reverse("amocrm-oauth-callback") == "/integrations/amocrm/oauth/callback/"
    assert reverse("amocrm-webhook", kwargs={"secret": "s3"}) == "/integrations/amocrm/webhook/s3/"
    assert reverse("amocrm-disconnect") == "/integrations/amocrm/disconnect/"
    assert reverse("crm-webhook", kwargs={"crm": "bitrix24", "secret": "s3"}) == (
        "/integrations/bitrix24/webhook/s3/"
    )
    assert reverse("crm-install", kwargs={"crm": "bitrix24"}) == INSTALL


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/integrations/kommo/oauth/callback/?code=x&referer=y"),
        ("post", "/integrations/kommo/webhook/secret/"),
        ("post", "/integrations/kommo/events/"),
        ("get", "/integrations/kommo/disconnect/"),
        ("post", "/integrations/kommo/install/"),
        ("post", "/integrations/amocrm/install/"),
        ("post", "/integrations/amocrm/events/"),
    ],
)
def test_an_unknown_crm_or_route_is_404_json(method, path):
    response = getattr(platform_client(), method)(path)

    assert response.status_code == 404
    assert set(response.json()) == JSON_ERROR


def test_bitrix24_has_no_signed_disconnect_hook(b24):
    response = platform_client().get(
        "/integrations/bitrix24/disconnect/",
        {"client_uuid": "x", "account_id": "a" * 32, "signature": "y"},
    )

    assert response.status_code == 403 and set(response.json()) == JSON_ERROR


# ---- install --------------------------------------------------------------------------------


def test_an_install_callback_waits_unbound_with_sealed_tokens(b24, member_id):
    response = post_install(b24.install_callback(member_id))

    assert response.status_code == 200 and response.json() == {"status": "success"}
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.state == CrmAccountBinding.State.UNBOUND and binding.network is None
    assert binding.base_url == f"https://{b24.portal(member_id).domain}"
    assert binding.application_token == b24.application_token(member_id)
    assert binding.pending_refresh_token and binding.webhook_secret
    assert binding.installer_user_id == 1
    # Sealed at rest: the column holds no token in clear.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_token, pending_refresh_token FROM tenants_crmaccountbinding "
            "WHERE id = %s",
            [binding.pk],
        )
        sealed = cursor.fetchone()
    assert b24.application_token(member_id) not in sealed[0]
    assert binding.pending_refresh_token not in sealed[1]


def test_the_installer_frame_installs_too(b24, member_id):
    query, body = b24.installer_frame(member_id)

    assert post_install(body, query).status_code == 200
    assert CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id).pending_refresh_token


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (("auth[refresh_token]", "f" * 32), 403),  # made-up tokens: invalid_grant
        (("auth[member_id]", "0" * 32), 403),  # another portal than the token server names
        (("auth[member_id]", "not-a-member"), 400),
        (("auth[domain]", "evil.example:8443"), 400),
        (("auth[application_token]", ""), 400),
        (("event", "ONCRMDEALUPDATE"), 400),
    ],
)
def test_a_hostile_install_is_refused_and_writes_nothing(b24, member_id, change, status):
    response = post_install(with_field(b24.install_callback(member_id), *change))

    assert response.status_code == status, response.content
    assert set(response.json()) == JSON_ERROR
    assert nothing_stored()


def test_a_malformed_install_body_is_400(b24):
    for body in (b"", b"\xff\xfe\x00", b"event=ONAPPINSTALL&" + b"x=1&" * 3000):
        response = post_install(body)
        assert response.status_code == 400, (body[:20], response.status_code, response.content)
        assert set(response.json()) == JSON_ERROR
    assert nothing_stored()


def test_a_non_admin_cannot_install(b24, member_id):
    response = post_install(b24.install_callback(member_id, user_id=7))

    assert response.status_code == 403 and response.json()["code"] == "not_admin"
    assert nothing_stored()


def test_installs_without_the_apps_keys_are_refused(b24, member_id, settings):
    settings.BITRIX24_CLIENT_SECRET = ""

    response = post_install(b24.install_callback(member_id))

    assert response.status_code == 409 and set(response.json()) == JSON_ERROR
    assert nothing_stored()


def test_installs_of_one_portal_are_rate_limited(b24, member_id, settings):
    settings.BITRIX24_INSTALLS_PER_ACCOUNT_PER_HOUR = 1
    assert post_install(b24.install_callback(member_id)).status_code == 200

    again = post_install(b24.install_callback(member_id))
    # Forged posts from another address do not use up the portal's own budget.
    elsewhere = post_install(b24.install_callback(member_id), address="198.51.100.4")

    assert again.status_code == 429 and again.json()["code"] == "install_rate_limited"
    assert elsewhere.status_code == 200


# ---- claim, connection ----------------------------------------------------------------------


def test_a_claimed_portal_is_the_networks_connection(b24, member_id, net_a):
    crm = install_and_claim(b24, member_id, net_a)

    assert crm.status == ConnectionStatus.CONNECTED
    assert crm.base_url == f"https://{b24.portal(member_id).domain}"
    assert crm.field_map  # the deal fields were created in the portal
    assert {f["FIELD_NAME"] for f in b24.userfields(member_id)} > {"UF_CRM_SOURCE_NOTE"}
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.state == CrmAccountBinding.State.BOUND
    assert binding.network_id == net_a.network.pk and binding.pending_refresh_token is None
    handlers = {(b["event"], b["handler"]) for b in b24.bindings(member_id) if not b["offline"]}
    url = f"{settings.PLATFORM_BASE_URL}/integrations/bitrix24/webhook/{binding.webhook_secret}/"
    assert ("ONCRMDEALUPDATE", url) in handlers
    assert ("ONAPPUNINSTALL", url) in handlers


def test_tokens_rotate_once_under_the_row_lock(b24, member_id, net_a):
    crm = install_and_claim(b24, member_id, net_a)
    deal_id = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
    b24.expire_access_tokens(member_id)
    before = b24.refresh_count(member_id)

    with tenant_context(net_a.network):
        first = connector_for(crm)
        second = connector_for(crm)
        assert first.read_lead(deal_id, first.ensure_fields([], None)).lead_id == deal_id
        # The second connector holds the rotated pair from the row: no second refresh (a
        # reused refresh token would be invalid_grant, §2.3).
        assert second.read_lead(deal_id, second.ensure_fields([], None)).lead_id == deal_id
        crm.refresh_from_db()

    assert b24.refresh_count(member_id) == before + 1
    assert crm.status == ConnectionStatus.CONNECTED


# ---- events ---------------------------------------------------------------------------------


def test_a_deal_event_with_the_install_token_queues_a_refresh(b24, member_id, net_a, queued):
    install_and_claim(b24, member_id, net_a)
    secret = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id).webhook_secret

    response = post_event(
        f"/integrations/bitrix24/webhook/{secret}/",
        b24.event_form(member_id, "ONCRMDEALUPDATE", 7001),
    )
    by_member = post_event(
        "/integrations/bitrix24/events/", b24.event_form(member_id, "ONCRMDEALUPDATE", 7003)
    )

    assert response.status_code == 200 and response.json() == {"queued": 1}
    assert by_member.status_code == 200 and by_member.json() == {"queued": 1}
    assert [c.args for c in queued.call_args_list] == [(7001,), (7003,)]


def test_hostile_events_are_refused_and_queue_nothing(b24, member_id, net_a, queued):
    install_and_claim(b24, member_id, net_a)
    other = b24.add_portal(domain="other.bitrix24.com")
    secret = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id).webhook_secret
    url = f"/integrations/bitrix24/webhook/{secret}/"
    forged = b24.event_form(member_id, "ONCRMDEALUPDATE", 7001, application_token="0" * 32)

    cases = [
        (url, forged, 403),
        ("/integrations/bitrix24/events/", forged, 403),
        # A portal we do not hold, with its own genuine token, at our portal's secret URL.
        (url, b24.event_form(other, "ONCRMDEALUPDATE", 7001), 403),
        ("/integrations/bitrix24/events/", b24.event_form(other, "ONCRMDEALUPDATE", 7001), 403),
        ("/integrations/bitrix24/webhook/no-such-secret/", forged, 404),
        (url, b"event=ONCRMDEALUPDATE&auth[member_id]=zz", 400),
        (url, b"\xff\xfe", 400),
        (url, b"", 400),
    ]
    for path, body, status in cases:
        response = post_event(path, body)
        assert response.status_code == status, (path, response.content)
        assert set(response.json()) == JSON_ERROR
    # Bitrix24's event posted to amoCRM's route is not believed either.
    assert post_event(f"/integrations/amocrm/webhook/{secret}/", forged).status_code == 404
    queued.assert_not_called()
    with tenant_context(net_a.network):
        assert CrmConnection.objects.get(account_id=member_id).status == "connected"


def test_an_uninstall_revokes_the_connection(b24, member_id, net_a, queued):
    install_and_claim(b24, member_id, net_a)
    secret = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id).webhook_secret
    url = f"/integrations/bitrix24/webhook/{secret}/"
    forged = with_field(b24.uninstall_form(member_id), "auth[application_token]", "1" * 32)

    refused = post_event(url, forged)
    with tenant_context(net_a.network):
        still = CrmConnection.objects.get(account_id=member_id).status
    response = post_event(url, b24.uninstall_form(member_id))

    assert refused.status_code == 403 and still == ConnectionStatus.CONNECTED
    assert response.status_code == 200 and response.json() == {"status": "revoked"}
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.state == CrmAccountBinding.State.REVOKED and not binding.application_token
    with tenant_context(net_a.network):
        crm = CrmConnection.objects.get(account_id=member_id)
        assert crm.status == ConnectionStatus.REVOKED and not crm.refresh_token
    # Later events of the removed app are not believed.
    after = post_event(url, b24.event_form(member_id, "ONCRMDEALUPDATE", 7001))
    assert after.status_code == 403
    queued.assert_not_called()


def test_a_reinstall_while_bound_gives_the_network_the_new_tokens(b24, member_id, net_a):
    crm = install_and_claim(b24, member_id, net_a)
    with tenant_context(net_a.network):
        old = crm.refresh_token

    assert post_install(b24.install_callback(member_id)).status_code == 200

    with tenant_context(net_a.network):
        crm.refresh_from_db()
        assert crm.refresh_token != old and crm.status == ConnectionStatus.CONNECTED
    binding = CrmAccountBinding.objects.get(crm="bitrix24", account_id=member_id)
    assert binding.state == CrmAccountBinding.State.BOUND and binding.pending_refresh_token is None


# ---- the offline queue (§6.5) ---------------------------------------------------------------


def test_changes_made_while_we_were_away_are_each_re_read_once(
    b24, member_id, net_a, queued, django_capture_on_commit_callbacks
):
    install_and_claim(b24, member_id, net_a)
    assert any(b["offline"] for b in b24.bindings(member_id))
    first = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
    second = b24.add_deal(member_id, title="Квест 2", opportunity="3000.00")
    # Managers edit the deals while the platform is down: no event is posted, the queue keeps one
    # record per deal (the latest change).
    b24.edit_deal_by_hand(member_id, first, OPPORTUNITY="5500.00")
    b24.edit_deal_by_hand(member_id, first, OPPORTUNITY="6000.00")
    b24.edit_deal_by_hand(member_id, second, TITLE="Квест 2, суббота")
    assert b24.offline_queue(member_id)

    with tenant_context(net_a.network):
        with django_capture_on_commit_callbacks(execute=True):
            drained = crm_events_catch_up()
        with django_capture_on_commit_callbacks(execute=True):
            again = crm_events_catch_up()

    assert drained == 2 and again == 0
    assert sorted(c.args for c in queued.call_args_list) == [(first,), (second,)]
    assert b24.offline_queue(member_id) == []


class Killed(BaseException):
    """The worker dies (SIGKILL, OOM): not an error anything of ours catches."""


def test_a_drain_killed_between_the_read_and_the_commit_loses_nothing(
    b24, member_id, net_a, queued, django_capture_on_commit_callbacks
):
    install_and_claim(b24, member_id, net_a)
    first = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
    second = b24.add_deal(member_id, title="Квест 2", opportunity="3000.00")
    b24.edit_deal_by_hand(member_id, first, OPPORTUNITY="5500.00")
    b24.edit_deal_by_hand(member_id, second, TITLE="Квест 2, суббота")
    kept = b24.offline_queue(member_id)
    real_reserve = Bitrix24Connector.catch_up_reserve

    def reserve_then_die(self, **kwargs):
        real_reserve(self, **kwargs)
        raise Killed  # the records are read; nothing of ours is committed

    with tenant_context(net_a.network):
        with mock.patch.object(Bitrix24Connector, "catch_up_reserve", reserve_then_die):
            with pytest.raises(Killed), django_capture_on_commit_callbacks(execute=True):
                crm_events_catch_up()
        # Nothing queued, nothing cleared: the portal still holds the records for our process.
        assert queued.call_count == 0
        assert b24.offline_queue(member_id) == kept
        assert set(b24.offline_reservations(member_id).values()) == {
            offline_process_id(CrmConnection.objects.get(crm="bitrix24"))
        }

        with django_capture_on_commit_callbacks(execute=True):
            drained = crm_events_catch_up()

    assert drained == 2
    assert sorted(c.args for c in queued.call_args_list) == [(first,), (second,)]
    assert b24.offline_queue(member_id) == []


def test_records_are_cleared_only_after_the_re_reads_are_queued(
    b24, member_id, net_a, queued, django_capture_on_commit_callbacks
):
    install_and_claim(b24, member_id, net_a)
    deal = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
    b24.edit_deal_by_hand(member_id, deal, OPPORTUNITY="5500.00")
    seen_at_queue_time = []
    queued.side_effect = lambda lead_id: seen_at_queue_time.append(b24.offline_queue(member_id))

    with tenant_context(net_a.network), django_capture_on_commit_callbacks(execute=True):
        crm_events_catch_up()
        # Before the commit the records are held, not cleared.
        assert b24.offline_queue(member_id)

    assert seen_at_queue_time and all(seen_at_queue_time)
    assert b24.offline_queue(member_id) == []


def test_a_failed_clear_leaves_the_records_for_the_next_drain(
    b24, member_id, net_a, queued, django_capture_on_commit_callbacks
):
    install_and_claim(b24, member_id, net_a)
    deal = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
    b24.edit_deal_by_hand(member_id, deal, OPPORTUNITY="5500.00")
    b24.fail_next(1, 400, "ERROR_CORE", "Internal error", method="event.offline.clear")

    with tenant_context(net_a.network):
        with django_capture_on_commit_callbacks(execute=True):
            assert crm_events_catch_up() == 1
        assert b24.offline_queue(member_id)
        with django_capture_on_commit_callbacks(execute=True):
            assert crm_events_catch_up() == 1

    assert [c.args for c in queued.call_args_list].count((deal,)) == 2
    assert b24.offline_queue(member_id) == []


def test_catch_up_runs_from_beat_for_bound_portals_only(b24, member_id, net_a, net_b):
    install_and_claim(b24, member_id, net_a)
    entry = settings.CELERY_BEAT_SCHEDULE["crm-events-catch-up"]
    assert entry["task"] == "crm_sync.events_catch_up_all"

    with mock.patch("franchise_platform.crm_sync.tasks.crm_events_catch_up.delay") as delay:
        networks = crm_events_catch_up_networks()

    assert networks == [net_a.network.slug]
    delay.assert_called_once_with()


def test_a_reconnect_queues_a_catch_up(b24, member_id, net_a, django_capture_on_commit_callbacks):
    with mock.patch("franchise_platform.crm_sync.tasks.crm_events_catch_up.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            install_and_claim(b24, member_id, net_a)

    delay.assert_called()


def test_amocrm_connections_have_no_queue_to_drain(net_a):
    with tenant_context(net_a.network):
        CrmConnection.objects.create(
            crm="amocrm", account_id="31337", base_url="https://x.amocrm.ru", access_token="t"
        )
        assert crm_events_catch_up() == 0


def test_bitrix24_is_not_connected_by_an_oauth_link(b24):
    with_state = platform_client().get(
        "/integrations/bitrix24/oauth/callback/",
        {"code": "c" * 32, "state": "s", "domain": "acme.bitrix24.com"},
    )
    without_state = platform_client().get(
        "/integrations/bitrix24/oauth/callback/", {"code": "c" * 32, "domain": "acme.bitrix24.com"}
    )

    assert with_state.status_code == 400
    assert "маркетплейса" in with_state.content.decode()
    assert without_state.status_code == 400 and set(without_state.json()) == JSON_ERROR
    assert nothing_stored()


def test_the_portals_time_budget_reaches_the_client_through_the_priority_limiter():
    from crm_connectors.bitrix24.ratelimit import OperatingBudget
    from franchise_platform.crm_sync.connectors import rate_limiter

    assert isinstance(rate_limiter("bitrix24"), OperatingBudget)
    assert not isinstance(rate_limiter("amocrm"), OperatingBudget)


def test_a_connect_link_for_bitrix24_is_refused_in_russian(net_a):
    from franchise_platform.crm_sync.connect import ConnectError, connect_url

    with pytest.raises(ConnectError) as refused:
        connect_url(network=net_a.network, user=net_a.owner.user(), crm="bitrix24")

    assert refused.value.code == "connect_not_supported" and "маркетплейса" in refused.value.detail
