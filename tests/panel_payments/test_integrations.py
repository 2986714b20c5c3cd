"""/panel/integrations/: the amoCRM connection and its state, the field ids (or the owner's own),
the outbox's health, and «Повторить» for a dead message — owners and admins only, per network."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.connect import STATE_MAX_AGE, STATE_SALT
from franchise_platform.crm_sync.models import (
    CrmConnection,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.crm_sync.services import FieldMapRejected, crm_field_map_set
from franchise_platform.security.models import AuditEntry
from tenants.models import Network

from .conftest import crm_connection, dead_message

pytestmark = pytest.mark.django_db

FIELD_MAP = {
    "location_field_id": 501,
    "location_options": {"loc-1": 9001},
    "prepayment_url_field_id": 502,
    "full_url_field_id": 503,
    "paid_sum_field_id": 504,
    "status_field_id": 505,
    "status_options": {"paid": 9101},
}
MINE = {
    "location_field_id": "501",
    "prepayment_url_field_id": "777",
    "full_url_field_id": "778",
    "paid_sum_field_id": "779",
    "status_field_id": "780",
}
PANEL_PAGES = ["/panel/", "/panel/partners/", "/panel/deals/", "/panel/payments/", "/panel/audit/"]


def _pending_syncs() -> int:
    return OutboxMessage.objects.filter(
        kind=OutboxKind.FIELDS_SYNC, status=OutboxStatus.PENDING
    ).count()


def test_not_connected_offers_the_connect_button_to_editors_only(in_network, owner):
    page = owner.get("/panel/integrations/").content.decode()
    seen_by_viewer = in_network.viewer.browser_client().get("/panel/integrations/")

    assert "amoCRM не подключена" in page and "Подключить amoCRM" in page
    assert seen_by_viewer.status_code == 200
    assert "Подключить amoCRM" not in seen_by_viewer.content.decode()
    assert "Подключить может владелец или администратор" in seen_by_viewer.content.decode()


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_connect_sends_the_editor_to_amocrm_consent_with_a_state_naming_the_network(
    in_network, who
):
    client = getattr(in_network, who).browser_client()

    response = client.post("/panel/integrations/amocrm/connect/")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "www.amocrm.ru" and target.path == "/oauth"
    query = parse_qs(target.query)
    state = signing.loads(query["state"][0], salt=STATE_SALT, max_age=STATE_MAX_AGE)
    assert state["n"] == in_network.network.slug
    assert query["mode"] == ["popup"]


def test_viewer_may_not_connect(in_network):
    response = in_network.viewer.browser_client().post("/panel/integrations/amocrm/connect/")

    assert response.status_code == 403


def test_connected_shows_the_account_since_when_and_the_field_ids(in_network, owner):
    crm_connection(field_map=FIELD_MAP)

    page = owner.get("/panel/integrations/").content.decode()

    assert "подключена" in page and "chezaquest.amocrm.ru" in page and "31337" in page
    assert timezone.localtime().strftime("%d.%m.%Y") in page
    for field_id in (501, 502, 503, 504, 505):
        assert f"{field_id}" in page
    assert "вариантов-локаций: 1" in page
    assert "Доступ к amoCRM отозван" not in page


def test_revoked_access_shows_a_red_banner_on_every_panel_page(in_network, owner):
    crm_connection(status="revoked", last_error="Интеграция отключена в amoCRM")

    pages = {url: owner.get(url).content.decode() for url in PANEL_PAGES}
    integrations = owner.get("/panel/integrations/").content.decode()

    for url, html in pages.items():
        assert 'class="banner banner-danger"' in html, url
        assert "Доступ к amoCRM отозван — переподключите интеграцию" in html, url
        assert 'href="/panel/integrations/"' in html
    assert "доступ отозван" in integrations and "Интеграция отключена в amoCRM" in integrations
    assert "Подключить amoCRM" in integrations


def test_no_banner_while_connected_or_not_connected(in_network, owner):
    assert "banner-danger" not in owner.get("/panel/").content.decode()
    crm_connection()
    assert "banner-danger" not in owner.get("/panel/").content.decode()


def test_owner_maps_existing_fields_and_a_fields_sync_is_queued(in_network, owner):
    crm = crm_connection(field_map=FIELD_MAP)

    response = owner.post("/panel/integrations/amocrm/fields/", MINE)

    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.field_map["prepayment_url_field_id"] == 777
    assert crm.field_map["status_field_id"] == 780
    # the location field stayed: its known options are kept; the status field changed: forgotten
    assert crm.field_map["location_options"] == {"loc-1": 9001}
    assert crm.field_map["status_options"] == {}
    assert _pending_syncs() == 1
    entry = AuditEntry.objects.get(action="crm.field_map")
    assert entry.changes["prepayment_url_field_id"] == [502, 777]
    assert "location_field_id" not in entry.changes


def test_field_ids_must_be_distinct_positive_whole_numbers(in_network, owner):
    crm = crm_connection(field_map=FIELD_MAP)

    bad = owner.post("/panel/integrations/amocrm/fields/", {**MINE, "paid_sum_field_id": "abc"})
    twice = owner.post("/panel/integrations/amocrm/fields/", {**MINE, "status_field_id": "777"})

    assert (bad.status_code, twice.status_code) == (400, 400)
    assert "Это поле уже выбрано для другой роли." in twice.content.decode()
    crm.refresh_from_db()
    assert crm.field_map == FIELD_MAP
    assert _pending_syncs() == 0


@pytest.mark.parametrize("value", ["0", "-5", "x", True, 2**63, None, "1.5"])
def test_the_service_refuses_what_is_not_a_field_id(in_network, value):
    crm = crm_connection(field_map=FIELD_MAP)

    with pytest.raises(FieldMapRejected) as refused:
        crm_field_map_set(connection=crm, **{**MINE, "full_url_field_id": value})

    assert list(refused.value.problems) == ["full_url_field_id"]
    crm.refresh_from_db()
    assert crm.field_map == FIELD_MAP


def test_the_service_takes_ids_as_text_or_numbers_and_coalesces_the_sync(in_network):
    crm = crm_connection()

    first = crm_field_map_set(connection=crm, **MINE)
    second = crm_field_map_set(connection=crm, **{k: int(v) + 1 for k, v in MINE.items()})

    assert first == second and _pending_syncs() == 1
    crm.refresh_from_db()
    assert crm.field_map["location_field_id"] == 502
    assert crm.field_map["location_options"] == {}


def test_viewer_may_not_map_fields(in_network):
    crm = crm_connection(field_map=FIELD_MAP)

    response = in_network.viewer.browser_client().post("/panel/integrations/amocrm/fields/", MINE)

    assert response.status_code == 403
    crm.refresh_from_db()
    assert crm.field_map == FIELD_MAP


def test_outbox_health_counts_pending_with_the_oldest_and_lists_dead_rows(in_network, owner):
    crm = crm_connection()
    dead = dead_message(crm, error="http_400: Field 777 is not a url field")
    for age in (3, 1):
        message = OutboxMessage.objects.create(
            connection=crm, kind=OutboxKind.NOTE, dedupe_key=f"note:wait-{age}"
        )
        OutboxMessage.objects.filter(pk=message.pk).update(
            created_at=timezone.now() - timedelta(hours=age)
        )

    page = owner.get("/panel/integrations/").content.decode()

    assert 'id="pending-count">2<' in page
    assert "самое старое ждёт 3" in page
    assert 'id="dead-count">1<' in page
    assert f'id="outbox-{dead.pk}"' in page
    assert "http_400: Field 777 is not a url field" in page
    assert f"/panel/integrations/outbox/{dead.pk}/retry/" in page
    assert f"amoCRM № {dead.deal.crm_deal_id}" in page


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_retry_puts_a_dead_message_back_in_the_queue(in_network, who):
    message = dead_message(crm_connection())
    client = getattr(in_network, who).browser_client()

    response = client.post(f"/panel/integrations/outbox/{message.pk}/retry/", follow=True)

    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
    assert "Сообщение снова в очереди" in response.content.decode()
    assert AuditEntry.objects.filter(action="crm.outbox_retry").count() == 1


def test_retry_of_a_message_that_is_not_dead_changes_nothing(in_network, owner):
    message = dead_message(crm_connection())
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.SENT)

    response = owner.post(f"/panel/integrations/outbox/{message.pk}/retry/", follow=True)

    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert "уже не ждёт повтора" in response.content.decode()


def test_viewer_cannot_retry_and_sees_no_button(in_network):
    message = dead_message(crm_connection())
    viewer = in_network.viewer.browser_client()

    page = viewer.get("/panel/integrations/").content.decode()
    response = viewer.post(f"/panel/integrations/outbox/{message.pk}/retry/")

    assert "Повторить" not in page and "http_400" in page
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD


def test_a_suspended_network_is_read_only_here_too(in_network, owner):
    message = dead_message(crm_connection(field_map=FIELD_MAP))
    Network.objects.filter(pk=in_network.network.pk).update(status=Network.Status.SUSPENDED)

    page = owner.get("/panel/integrations/").content.decode()
    answers = [
        owner.post(f"/panel/integrations/outbox/{message.pk}/retry/").status_code,
        owner.post("/panel/integrations/amocrm/fields/", MINE).status_code,
        owner.post("/panel/integrations/amocrm/connect/").status_code,
    ]

    assert answers == [403, 403, 403]
    assert "Повторить" not in page and "Переподключить" not in page
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD
    assert CrmConnection.objects.get().field_map == FIELD_MAP


def test_network_b_gets_404_for_a_message_of_a_and_changes_nothing(in_network, owner_b):
    message = dead_message(crm_connection())
    client = owner_b.browser_client()

    retry = client.post(f"/panel/integrations/outbox/{message.pk}/retry/")
    page = client.get("/panel/integrations/").content.decode()

    assert retry.status_code == 404
    assert str(message.pk) not in page and "amoCRM не подключена" in page
    with tenant_context(in_network.network):
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.DEAD, 8)
        assert not AuditEntry.objects.filter(action="crm.outbox_retry").exists()


def test_a_malformed_message_id_is_404(in_network, owner):
    assert owner.post("/panel/integrations/outbox/nope/retry/").status_code == 404
