"""Two first presses on one lead at the same moment: one deal, two links, one note.

Outside the per-test transaction (a network of its own, committed), so that the two presses run
on two real connections and meet at PostgreSQL's unique index as they would in production.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from django.db import connection
from django_tenants.utils import tenant_context

from franchise_platform.crm_sync.models import OutboxMessage
from franchise_platform.flows.button import deal_links_ensure
from franchise_platform.payments import links as links_module
from franchise_platform.payments.links import LeadFacts
from franchise_platform.payments.models import Deal, LinkStatus, PaymentLink
from tests.factories import shop
from tests.panel_payments.conftest import crm_connection


def test_two_first_presses_on_one_lead_at_the_same_moment_make_one_deal(
    fresh_network, django_db_blocker, monkeypatch
):
    """Both presses find no deal, then both insert it: the loser's insert meets the unique
    (crm, crm_deal_id), its transaction is retried, and it answers with the winner's deal."""
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        crm_connection()
        location = shop().partner.locations.get()

    both_looked = threading.Barrier(2)
    original_create = links_module.Deal.objects.create

    def create_after_both_looked(**kwargs):
        both_looked.wait(timeout=10)
        return original_create(**kwargs)

    monkeypatch.setattr(links_module.Deal.objects, "create", create_after_both_looked)
    results: list[object] = []

    def press():
        try:
            with django_db_blocker.unblock(), tenant_context(fresh_network.network):
                results.append(
                    deal_links_ensure(
                        facts=LeadFacts("amocrm", 8101, "Квест", Decimal("5000"), str(location.pk))
                    )
                )
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert all(isinstance(r, Deal) for r in results) and len(results) == 2, results
    assert results[0].pk == results[1].pk
    with django_db_blocker.unblock(), tenant_context(fresh_network.network):
        assert Deal.objects.filter(crm_deal_id=8101).count() == 1
        assert sorted(
            PaymentLink.objects.filter(
                deal__crm_deal_id=8101, status=LinkStatus.ACTIVE
            ).values_list("kind", flat=True)
        ) == ["full", "prepayment"]
        assert OutboxMessage.objects.filter(kind="note", deal__crm_deal_id=8101).count() == 1
