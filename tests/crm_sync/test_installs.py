"""The state-less install callback (amoCRM's `from_widget` call) cannot be abused: a call that
cannot be genuine, or one over a limit, leaves no row and queues no task; waiting installs
expire and are swept."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from franchise_platform.crm_sync import installs
from tenants.models import CrmAccountBinding, PendingInstall
from tests.personas import platform_client

pytestmark = pytest.mark.django_db

CALLBACK = "/integrations/amocrm/oauth/callback/"
CODE = "def50200" + "ab12" * 40


@pytest.fixture
def queued():
    with mock.patch(
        "franchise_platform.crm_sync.tasks.marketplace_install_complete.delay"
    ) as delay:
        yield delay


@pytest.fixture(autouse=True)
def fresh_budgets():
    """The hourly budgets live in Redis, which no test transaction rolls back."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*amocrm-install:*"):
        client.delete(key)
    return


def install_call(referer="chezaquest.amocrm.ru", code=CODE, address="203.0.113.7"):
    return platform_client().get(
        CALLBACK, {"code": code, "referer": referer, "from_widget": "1"}, REMOTE_ADDR=address
    )


def test_a_genuine_call_is_remembered_and_queued(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = install_call()

    assert response.status_code == 200
    pending = PendingInstall.objects.get()
    assert pending.referer == "chezaquest.amocrm.ru"
    queued.assert_called_once_with(str(pending.pk))


@pytest.mark.parametrize(
    ("referer", "code"),
    [
        ("evil.example", CODE),
        ("https://x.amocrm.ru?://evil.example", CODE),
        ("x.amocrm.ru:8443", CODE),
        ("chezaquest.amocrm.ru", "short"),
        ("chezaquest.amocrm.ru", "def502<script>" + "a" * 30),
        ("chezaquest.amocrm.ru", "a" * 5000),
        ("chezaquest.amocrm.ru", "def502 00" + "a" * 30),
    ],
)
def test_a_call_that_cannot_be_genuine_leaves_no_row_and_no_task(
    queued, django_capture_on_commit_callbacks, referer, code
):
    with django_capture_on_commit_callbacks(execute=True):
        response = install_call(referer=referer, code=code)

    assert response.status_code == 400
    assert set(response.json()) == {"detail", "code"}
    assert not PendingInstall.objects.exists()
    queued.assert_not_called()


def test_one_account_host_is_limited_per_hour(queued, settings, django_capture_on_commit_callbacks):
    settings.AMOCRM_INSTALLS_PER_ACCOUNT_PER_HOUR = 2
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            install_call(referer="limited.amocrm.ru", address=f"198.51.100.{i}").status_code
            for i in range(4)
        ]
        other = install_call(referer="another.amocrm.ru", address="198.51.100.9")

    assert answers == [200, 200, 429, 429]
    assert other.status_code == 200
    assert PendingInstall.objects.filter(referer="limited.amocrm.ru").count() == 2
    assert queued.call_count == 3


def test_one_address_is_limited_per_hour(queued, settings, django_capture_on_commit_callbacks):
    settings.AMOCRM_INSTALLS_PER_ADDRESS_PER_HOUR = 3
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            install_call(referer=f"acc{i}.amocrm.ru", address="192.0.2.55").status_code
            for i in range(5)
        ]

    assert answers == [200, 200, 200, 429, 429]
    assert install_call(referer="acc9.amocrm.ru", address="192.0.2.56").status_code == 200
    assert PendingInstall.objects.count() == 4
    assert queued.call_count == 3  # the last call ran outside the capture: no task either way
    body = install_call(referer="acc10.amocrm.ru", address="192.0.2.55").json()
    assert body["code"] == "install_rate_limited"


def test_waiting_rows_have_a_ceiling(queued, settings):
    settings.AMOCRM_PENDING_INSTALLS_MAX = 2
    answers = [install_call(referer=f"c{i}.amocrm.ru", address=f"10.0.0.{i}") for i in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert PendingInstall.objects.count() == 2


def test_an_expired_waiting_install_is_not_exchanged(amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    account_id = amo_server.add_account()
    pending = PendingInstall.objects.create(
        code=amo_server.authorize(account_id),
        referer=f"{amo_server.accounts[account_id].subdomain}.amocrm.ru",
    )
    PendingInstall.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - timedelta(minutes=21)
    )

    assert installs.pending_install_exchange(pending_id=str(pending.pk)) is None
    assert not PendingInstall.objects.exists()
    assert not CrmAccountBinding.objects.filter(account_id=account_id).exists()


def test_a_refused_code_removes_the_waiting_install(amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    pending = PendingInstall.objects.create(code="def502" + "0" * 40, referer="nobody.amocrm.ru")

    assert installs.pending_install_exchange(pending_id=str(pending.pk)) is None
    assert not PendingInstall.objects.exists()


def test_the_sweep_drops_expired_and_unclaimed_installs_and_requeues_lost_ones(queued):
    now = timezone.now()
    expired = PendingInstall.objects.create(code=CODE, referer="old.amocrm.ru")
    lost = PendingInstall.objects.create(code=CODE, referer="lost.amocrm.ru")
    fresh = PendingInstall.objects.create(code=CODE, referer="fresh.amocrm.ru")
    PendingInstall.objects.filter(pk=expired.pk).update(created_at=now - timedelta(minutes=25))
    PendingInstall.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=5))
    stale = CrmAccountBinding.objects.create(account_id=9001, state="unbound")
    recent = CrmAccountBinding.objects.create(account_id=9002, state="unbound")
    CrmAccountBinding.objects.filter(pk=stale.pk).update(
        updated_at=now - timedelta(days=settings.AMOCRM_UNCLAIMED_INSTALL_DAYS + 1)
    )

    result = installs.pending_installs_sweep()

    assert result == {"expired": 1, "unclaimed": 1, "requeued": 1}
    assert set(PendingInstall.objects.values_list("pk", flat=True)) == {lost.pk, fresh.pk}
    assert list(CrmAccountBinding.objects.values_list("pk", flat=True)) == [recent.pk]
    queued.assert_called_once_with(str(lost.pk))


def test_the_sweep_runs_on_the_beat_schedule():
    entries = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "crm_sync.pending_installs_sweep"
    ]
    assert len(entries) == 1
    from franchise_platform.celery import app

    app.loader.import_default_modules()
    assert "crm_sync.pending_installs_sweep" in app.tasks


def test_an_ipv6_client_is_counted_per_64(queued, settings):
    settings.AMOCRM_INSTALLS_PER_ADDRESS_PER_HOUR = 2
    answers = [
        install_call(referer=f"v6n{i}.amocrm.ru", address=f"2001:db8:1:2::{i + 1}").status_code
        for i in range(3)
    ]

    assert answers == [200, 200, 429]
