"""«Повторить все» on /panel/integrations/: every dead CRM update back in the queue at once,
owners and admins only, one audit entry; and the page says when amoCRM is failing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import OutboxKind, OutboxMessage, OutboxStatus
from franchise_platform.security.models import AuditEntry
from tests.factories import DealFactory

from .conftest import crm_connection, dead_message

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_retry_all_puts_every_dead_message_back_in_the_queue_with_one_audit_entry(
    in_network, who, django_capture_on_commit_callbacks, monkeypatch
):
    from franchise_platform.crm_sync import tasks

    queued = []
    monkeypatch.setattr(
        tasks.outbox_send, "apply_async", lambda args, countdown=0: queued.append(args[0])
    )
    crm = crm_connection()
    dead = [dead_message(crm, deal=DealFactory()) for _ in range(3)]
    sent = OutboxMessage.objects.create(
        connection=crm, kind=OutboxKind.NOTE, dedupe_key="note:sent", status=OutboxStatus.SENT
    )
    client = getattr(in_network, who).browser_client()

    page = client.get("/panel/integrations/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/panel/integrations/outbox/retry-all/", follow=True)

    assert 'id="outbox-retry-all"' in page and "Повторить все" in page
    assert "снова в очереди на отправку в amoCRM: 3" in response.content.decode()
    statuses = {m.pk: m.status for m in OutboxMessage.objects.all()}
    assert all(statuses[m.pk] == OutboxStatus.PENDING for m in dead)
    assert statuses[sent.pk] == OutboxStatus.SENT
    assert sorted(queued) == sorted(str(m.pk) for m in dead)
    (entry,) = AuditEntry.objects.filter(action="crm.outbox_retry_all")
    assert entry.actor == getattr(in_network, who).email
    assert entry.changes == {"revived": [None, 3]}


def test_retry_all_with_nothing_dead_changes_nothing_and_is_not_audited(in_network, owner):
    response = owner.post("/panel/integrations/outbox/retry-all/", follow=True)

    assert response.status_code == 200
    assert "Недоставленных обновлений нет." in response.content.decode()
    assert not AuditEntry.objects.filter(action="crm.outbox_retry_all").exists()


def test_viewer_cannot_retry_all_and_sees_no_button(in_network):
    crm = crm_connection()
    messages = [dead_message(crm, deal=DealFactory()) for _ in range(2)]
    viewer = in_network.viewer.browser_client()

    page = viewer.get("/panel/integrations/").content.decode()
    response = viewer.post("/panel/integrations/outbox/retry-all/")

    assert response.status_code == 403
    assert "Повторить все" not in page
    assert all(OutboxMessage.objects.get(pk=m.pk).status == OutboxStatus.DEAD for m in messages)
    assert not AuditEntry.objects.filter(action="crm.outbox_retry_all").exists()


def test_retry_all_is_post_only_and_per_network(in_network, owner, owner_b):
    message = dead_message(crm_connection())

    assert owner.get("/panel/integrations/outbox/retry-all/").status_code == 405
    other = owner_b.browser_client().post("/panel/integrations/outbox/retry-all/", follow=True)

    assert "Недоставленных обновлений нет." in other.content.decode()
    with tenant_context(in_network.network):
        message.refresh_from_db()
        assert message.status == OutboxStatus.DEAD


def test_a_failing_account_says_so_while_its_breaker_is_open(in_network, owner):
    crm_connection(breaker_open_since=timezone.now() - timedelta(minutes=20), breaker_failures=3)

    page = owner.get("/panel/integrations/").content.decode()

    assert 'id="crm-unavailable"' in page
    assert "Платформа проверяет её одним запросом за раз" in page


PANEL_PAGES = ["/panel/", "/panel/deals/", "/panel/payments/", "/panel/audit/"]


def test_a_dead_update_is_announced_on_every_panel_page_until_retried(in_network, owner):
    crm = crm_connection()
    quiet = [owner.get(path).content.decode() for path in PANEL_PAGES]
    dead_message(crm)
    viewer = in_network.viewer.browser_client()

    loud = [owner.get(path).content.decode() for path in PANEL_PAGES]
    seen_by_viewer = viewer.get("/panel/").content.decode()
    owner.post("/panel/integrations/outbox/retry-all/")
    after = owner.get("/panel/").content.decode()

    assert not any('id="crm-dead"' in page for page in quiet)
    assert all('id="crm-dead"' in page and "/panel/integrations/#dead" in page for page in loud)
    assert 'id="crm-dead"' in seen_by_viewer
    assert 'id="crm-dead"' not in after
