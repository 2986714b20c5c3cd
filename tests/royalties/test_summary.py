"""The weekly summary: off by default for everyone, a personal switch in the settings, sent once
per week per person by the beat task."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import OutboxKind, OutboxMessage, OutboxStatus
from franchise_platform.royalties.models import SummaryPreference
from franchise_platform.royalties.summary import weekly_summaries_send, weekly_summary_build

from .helpers import msk, partner_with_shop, pay, refund

pytestmark = pytest.mark.django_db

MONDAY = msk(2026, 11, 30, 8)  # covers 23–29 November


def _send(now=MONDAY):
    return weekly_summaries_send(network_name="Альфа", panel_url="http://x/panel/", now=now)


def test_nobody_gets_a_summary_unless_they_turned_it_on(in_network):
    pay(partner_with_shop(), "1000.00", msk(2026, 11, 25))
    assert _send() == 0
    assert mail.outbox == []


def test_the_switch_in_the_settings_is_off_by_default_and_personal(net_a):
    owner, viewer = net_a.owner.browser_client(), net_a.viewer.browser_client()
    page = owner.get("/panel/settings/").content.decode()
    assert (
        'id="weekly_summary"' in page and "checked" not in page.split('id="weekly_summary"')[1][:40]
    )

    assert owner.post("/panel/royalties/summary/", {"weekly_summary": "on"}).status_code == 302
    # A viewer may switch their own summary too (it changes nothing of the network).
    assert viewer.post("/panel/royalties/summary/", {}).status_code == 302
    with tenant_context(net_a.network):
        prefs = dict(SummaryPreference.objects.values_list("user_id", "weekly_summary"))
        assert prefs == {net_a.owner.user().pk: True, net_a.viewer.user().pk: False}
    assert (
        "checked"
        in owner.get("/panel/settings/").content.decode().split('id="weekly_summary"')[1][:40]
    )


def test_a_summary_is_sent_once_per_week_with_the_numbers(in_network):
    strong = partner_with_shop("ИП Сильный")
    weak = partner_with_shop("ИП Слабый")
    paid = pay(strong, "9000.00", msk(2026, 11, 23, 0, 1))
    refund(paid, "1000.00", msk(2026, 11, 29, 23))
    pay(weak, "500.00", msk(2026, 11, 24))
    pay(weak, "70000.00", msk(2026, 11, 24), is_test=True)
    pay(strong, "100000.00", msk(2026, 11, 30, 0, 1))  # the new week: not in this summary
    OutboxMessage.objects.create(kind=OutboxKind.NOTE, status=OutboxStatus.DEAD, dedupe_key="d1")
    SummaryPreference.objects.create(user_id=in_network.owner.user().pk, weekly_summary=True)

    summary = weekly_summary_build(now=MONDAY)
    assert summary.turnover == Decimal("8500.00") and summary.payments == 2
    assert [p.name for p in summary.top][:2] == ["ИП Сильный", "ИП Слабый"]
    assert summary.dead_crm_updates == 1

    assert _send() == 1
    assert _send() == 0  # the same week again (a repeated beat run)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [in_network.owner.email]
    assert "23.11–29.11.2026" in message.subject
    assert "8500,00" in message.body and "ИП Сильный" in message.body

    assert _send(now=msk(2026, 12, 7, 8)) == 1  # next week: one more
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    "task", ["royalties.draft_all_networks", "royalties.summaries_all_networks"]
)
def test_the_fan_outs_are_on_the_beat_schedule_and_registered(task, settings):
    assert [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == task]
    from franchise_platform.celery import app

    app.loader.import_default_modules()
    assert task in app.tasks
    assert task.replace("_all_networks", "_network") in app.tasks


def test_the_summary_task_sends_in_each_network_it_runs_in(net_a, net_b):
    from unittest import mock

    from franchise_platform.royalties import tasks

    with tenant_context(net_a.network):
        SummaryPreference.objects.create(user_id=net_a.owner.user().pk, weekly_summary=True)
        pay(partner_with_shop(), "700.00", msk(2026, 11, 25))

    def run_here() -> None:
        tasks.summaries_network_send.run()

    with mock.patch.object(tasks.summaries_network_send, "delay", side_effect=run_here):
        tasks.summaries_all_networks.run()
    assert [m.to for m in mail.outbox] == [[net_a.owner.email]]
    assert net_a.network.name in mail.outbox[0].subject
    assert f"{net_a.host}" in mail.outbox[0].body


@pytest.mark.parametrize(("crm", "name"), [("bitrix24", "Bitrix24"), ("amocrm", "amoCRM")])
def test_the_summary_names_the_networks_own_crm(in_network, crm, name):
    in_network.network.crm = crm
    in_network.network.save(update_fields=["crm"])
    SummaryPreference.objects.create(user_id=in_network.owner.user().pk, weekly_summary=True)

    assert _send() == 1

    body = mail.outbox[0].body
    assert f"Недоставленные обновления {name}" in body
    assert crm == "amocrm" or "amoCRM" not in body
