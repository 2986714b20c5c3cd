"""Dead CRM updates reach the owner by e-mail: one e-mail per batch of rows, never one per row,
never a second one for the same rows, and a mail server that refuses loses nothing."""

from __future__ import annotations

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import (
    CrmConnection,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from franchise_platform.crm_sync.sender import outbox_messages_retry
from franchise_platform.sweeper import network_sweep
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def _dead(n: int, *, kind=OutboxKind.NOTE, tag="x") -> list[OutboxMessage]:
    connection = CrmConnection.objects.first() or CrmConnection.objects.create(
        account_id=4242, base_url="https://chezaquest.amocrm.ru", subdomain="chezaquest"
    )
    return [
        OutboxMessage.objects.create(
            connection=connection,
            kind=kind,
            deal=DealFactory(),
            dedupe_key=f"note:{tag}-{i}",
            status=OutboxStatus.DEAD,
            attempts=30,
            last_error="http_503: amoCRM answered 503",
        )
        for i in range(n)
    ]


@pytest.fixture
def network(net_a, clock, no_wakeups):
    with tenant_context(net_a.network):
        yield net_a


def test_rows_that_died_together_make_one_email_to_the_owner(network):
    _dead(3)
    _dead(2, kind=OutboxKind.DEAL_STATE, tag="d")

    first = network_sweep()
    second = network_sweep()

    assert (first["dead_notified"], second["dead_notified"]) == (5, 0)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [network.owner.email]  # the owner only, not the admin or the viewer
    assert "amoCRM" in sent.subject and network.network.name in sent.subject
    assert "— 5" in sent.body
    assert "Примечание: 3" in sent.body and "Состояние сделки: 2" in sent.body
    assert "/panel/integrations/#dead" in sent.body
    assert not OutboxMessage.objects.filter(dead_notified_at__isnull=True).exists()


def test_rows_dying_soon_after_wait_for_the_next_email(network, clock, settings):
    _dead(1)
    network_sweep()
    _dead(2, tag="later")
    clock.shift(60)
    assert network_sweep()["dead_notified"] == 0  # not an e-mail a minute
    clock.shift(settings.OUTBOX_DEAD_NOTICE_MINUTES * 60)
    assert network_sweep()["dead_notified"] == 2

    assert len(mail.outbox) == 2
    assert "— 2" in mail.outbox[1].body
    assert "Всего недоставленных сейчас: 3" in mail.outbox[1].body


def test_a_refusing_mail_server_leaves_the_rows_for_the_next_sweep(network, monkeypatch):
    from franchise_platform.crm_sync import notices

    _dead(2)

    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    original = notices.send_mail
    monkeypatch.setattr(notices, "send_mail", refuse)
    assert network_sweep()["dead_notified"] == 0  # the sweep itself goes on
    assert OutboxMessage.objects.filter(dead_notified_at__isnull=True).count() == 2
    monkeypatch.setattr(notices, "send_mail", original)
    assert network_sweep()["dead_notified"] == 2
    assert len(mail.outbox) == 1


def test_a_retried_row_that_dies_again_is_told_about_again(network, clock, settings):
    (row,) = _dead(1)
    network_sweep()
    assert outbox_messages_retry() == 1
    OutboxMessage.objects.filter(pk=row.pk).update(status=OutboxStatus.DEAD)
    clock.shift(settings.OUTBOX_DEAD_NOTICE_MINUTES * 60 + 1)
    assert network_sweep()["dead_notified"] == 1
    assert len(mail.outbox) == 2
