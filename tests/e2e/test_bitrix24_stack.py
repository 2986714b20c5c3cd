"""Bitrix24 through the real stack (issue 17): a real gunicorn and Celery worker, real PostgreSQL
and Redis, the strict fake Bitrix24. An install posted to the platform is claimed by a network;
the worker creates the deal fields and binds the events in the portal; the portal's own event
post reaches the live server and is verified; changes made while the platform was away come back
through the offline queue, drained by the worker once; the portal's uninstall revokes."""

from __future__ import annotations

import httpx
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.crm_sync.tasks import crm_events_catch_up
from tenants.claims import account_claim, claim_code_issue
from tenants.models import CrmAccountBinding
from tests.fakes.bitrix24 import FakeBitrix24
from tests.live import wait_for
from tests.personas import platform_client

pytestmark = pytest.mark.worker

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def live_b24():
    with FakeBitrix24(seed=1717) as fake:
        yield fake


@pytest.fixture
def b24_stack(celery_worker, live_b24, settings):
    """The session's worker restarted with the app's keys and the fake's address (and this
    process's settings likewise, where the install is received); restored after."""
    env = {
        "BITRIX24_CLIENT_ID": live_b24.client_id,
        "BITRIX24_CLIENT_SECRET": live_b24.client_secret,
        "BITRIX24_API_BASE_URL": live_b24.base_url,
    }
    for key, value in env.items():
        setattr(settings, key, value)
    original = dict(celery_worker.env)
    celery_worker.stop()
    celery_worker.env = {**original, **env}
    celery_worker.start()
    try:
        yield live_b24
    finally:
        celery_worker.stop()
        celery_worker.env = original
        celery_worker.start()


def _connection(network, member_id):
    with tenant_context(network):
        return CrmConnection.objects.filter(crm="bitrix24", account_id=member_id).first()


def test_install_claim_events_catch_up_and_uninstall(live_network, b24_stack):
    b24 = b24_stack
    member_id = b24.add_portal(domain=f"{live_network.slug}.bitrix24.com")
    network = live_network.network()
    try:
        installed = platform_client().post(
            "/integrations/bitrix24/install/",
            b24.install_callback(member_id),
            content_type=FORM["Content-Type"],
        )
        assert installed.status_code == 200, installed.content
        code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
        account_claim(network=network, code=code.code, actor="e2e")
        connection.set_schema_to_public()

        # The worker: deal fields created in the portal, online + offline events and the
        # uninstall bound to the platform's address.
        wait_for(
            lambda: (
                {"ONCRMDEALUPDATE", "ONAPPUNINSTALL"}
                <= {b["event"] for b in b24.bindings(member_id) if not b["offline"]}
            ),
            what="events bound by the worker",
            timeout=60,
        )
        wait_for(
            lambda: (c := _connection(network, member_id)) is not None and c.field_map,
            what="the deal fields created by the worker",
            timeout=60,
        )
        assert len(b24.userfields(member_id)) > 1

        # The portal posts a deal event to the live server: verified, queued.
        deal = b24.add_deal(member_id, title="Квест на 6", opportunity="5000.00")
        assert b24.fire_event(member_id, "ONCRMDEALUPDATE", deal) == [200]

        # Changed while the platform was away: the worker drains the queue once.
        b24.edit_deal_by_hand(member_id, deal, OPPORTUNITY="6000.00")
        assert b24.offline_queue(member_id)
        with tenant_context(network):
            crm_events_catch_up.delay()
        connection.set_schema_to_public()
        wait_for(lambda: b24.offline_queue(member_id) == [], what="the offline queue drained")
        assert len(b24.calls_of(member_id, "event.offline.get")) >= 1

        # A forged uninstall is refused by the live server; the portal's own revokes.
        handler = next(
            b["handler"] for b in b24.bindings(member_id) if b["event"] == "ONAPPUNINSTALL"
        )
        forged = httpx.post(
            handler,
            content=b24.uninstall_form(member_id).replace(
                b24.application_token(member_id).encode(), b"f" * 32
            ),
            headers=FORM,
            timeout=10,
        )
        assert forged.status_code == 403
        assert _connection(network, member_id).status == ConnectionStatus.CONNECTED
        gone = httpx.post(handler, content=b24.uninstall_form(member_id), headers=FORM, timeout=10)
        assert gone.status_code == 200 and gone.json() == {"status": "revoked"}
        assert _connection(network, member_id).status == ConnectionStatus.REVOKED
    finally:
        connection.set_schema_to_public()
        CrmAccountBinding.objects.filter(crm="bitrix24", account_id=member_id).delete()
