"""Bitrix24's rotating refresh token (spec §2.3: a used one and its access token die, a reuse is
invalid_grant) under concurrency: callers in many threads, each with its own database
connection, hit the expired token at once; the row lock (DbTokenStore) lets one refresh happen
and every other caller uses the pair it saved."""

from __future__ import annotations

import threading

from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.connectors import connector_for, field_map_of
from franchise_platform.crm_sync.models import CrmConnection
from tenants.claims import account_claim, claim_code_issue
from tenants.models import CrmAccountBinding
from tests.personas import platform_client

from .conftest import outbox_drain

CALLERS = 12


def test_concurrent_callers_with_an_expired_token_refresh_once(
    fresh_network,
    b24,
    django_db_blocker,
):
    member_id = b24.add_portal(domain=f"{fresh_network.network.slug}.bitrix24.com")
    with django_db_blocker.unblock():
        try:
            posted = platform_client().post(
                "/integrations/bitrix24/install/",
                b24.install_callback(member_id),
                content_type="application/x-www-form-urlencoded",
            )
            assert posted.status_code == 200, posted.content
            code = claim_code_issue(crm="bitrix24", account_id=member_id, user_id=1, is_admin=None)
            account_claim(network=fresh_network.network, code=code.code, actor="test")
            outbox_drain(fresh_network.network)
            deal_id = b24.add_deal(member_id, title="Квест", opportunity="5000.00")
            with tenant_context(fresh_network.network):
                old_refresh = CrmConnection.objects.get(crm="bitrix24").refresh_token
            b24.expire_access_tokens(member_id)
            refreshes_before = b24.refresh_count(member_id)

            errors: list[BaseException] = []
            barrier = threading.Barrier(CALLERS)

            def caller() -> None:
                try:
                    with tenant_context(fresh_network.network):
                        crm = CrmConnection.objects.get(crm="bitrix24")
                        barrier.wait(timeout=30)
                        connector_for(crm).read_lead(deal_id, field_map_of(crm))
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)

            assert errors == []
            assert b24.refresh_count(member_id) - refreshes_before == 1
            with tenant_context(fresh_network.network):
                assert CrmConnection.objects.get(crm="bitrix24").refresh_token != old_refresh
            # Never above the portal's bucket (§3.6: 50).
            assert b24.max_level_seen <= 50
        finally:
            connection.set_schema_to_public()
            CrmAccountBinding.objects.filter(crm="bitrix24", account_id=member_id).delete()
