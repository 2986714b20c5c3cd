"""Token refresh under a per-account lock: 50 callers with an expired token cause one refresh."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_connectors.errors import CrmRateLimited
from franchise_platform.crm_sync.connectors import connector_for, field_map_of
from franchise_platform.crm_sync.models import CrmConnection

from .conftest import oauth_connect, outbox_drain


def test_fifty_concurrent_callers_with_an_expired_token_refresh_once(
    fresh_network, amo, django_db_blocker
):
    with django_db_blocker.unblock():
        account_id = amo.add_account()
        assert oauth_connect(fresh_network.owner, amo, account_id).status_code == 200
        outbox_drain(fresh_network.network)
        amo.set_lead(account_id, 9001, 1000)
        with tenant_context(fresh_network.network):
            CrmConnection.objects.update(expires_at=timezone.now() - timedelta(minutes=5))
            old_refresh = CrmConnection.objects.get().refresh_token
        amo.expire_access_tokens(account_id)
        refreshes_before = amo.refresh_count(account_id)

        errors: list[BaseException] = []
        barrier = threading.Barrier(50)

        def caller():
            try:
                with tenant_context(fresh_network.network):
                    crm = CrmConnection.objects.get()
                    barrier.wait(timeout=30)
                    # At 7 requests/s, 50 callers take ~7 s; a caller whose slot does not come
                    # within the limiter's wait gets CrmRateLimited and tries again, as the
                    # outbox would.
                    deadline = time.monotonic() + 60
                    while True:
                        try:
                            connector_for(crm).read_lead(9001, field_map_of(crm))
                            break
                        except CrmRateLimited:
                            if time.monotonic() > deadline:
                                raise
                            time.sleep(0.2)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=caller) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        assert errors == []
        assert amo.refresh_count(account_id) - refreshes_before == 1
        with tenant_context(fresh_network.network):
            crm = CrmConnection.objects.get()
            assert crm.refresh_token != old_refresh  # the rotated pair was saved
            assert crm.expires_at > timezone.now()
        assert amo.max_rps_seen(account_id) <= 7
        from tenants.models import CrmAccountBinding

        CrmAccountBinding.objects.filter(account_id=account_id).delete()


def test_background_work_leaves_slots_for_the_button(settings):
    """With the outbox saturating its budget, an interactive call still gets a slot at once."""
    import redis as redis_lib

    from franchise_platform.crm_sync.connectors import PriorityRateLimiter, rate_limiter

    redis_lib.Redis.from_url(settings.REDIS_URL).delete(
        "crm:amocrm:ratelimit:background:1", "crm:amocrm:ratelimit:account:1"
    )
    limiter: PriorityRateLimiter = rate_limiter()
    granted_background = 0
    for _ in range(settings.AMOCRM_RATE_LIMIT_PER_SECOND):
        # Background work passes its own budget first, then the account's.
        if limiter.acquire("background:1", 0) and limiter.acquire("account:1", 0):
            granted_background += 1

    assert granted_background == settings.AMOCRM_BACKGROUND_RATE_PER_SECOND
    started = time.monotonic()
    assert limiter.acquire("account:1", 1.0)  # the button
    assert time.monotonic() - started < 0.05
