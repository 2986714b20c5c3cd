"""The royalty pages of the panel: the owner approves (audited), others cannot; rule editing;
exports; the statement of another network is a 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.royalties.models import RoyaltyRule, RoyaltyStatement
from franchise_platform.royalties.services import statement_draft
from franchise_platform.security.models import AuditEntry

from .helpers import msk, partner_with_shop, pay, set_rule

pytestmark = pytest.mark.django_db

NOV = msk(2026, 11, 1).date()


@pytest.fixture
def draft(net_a):
    with tenant_context(net_a.network):
        account = partner_with_shop("ИП Панельный")
        set_rule(account.partner, kind="percent", percent=Decimal("10"))
        pay(account, "1000.00", msk(2026, 11, 5))
        return statement_draft(partner_id=account.partner_id, period=NOV, now=msk(2026, 12, 2))


def _url(statement, tail=""):
    return f"/panel/royalties/statements/{statement.pk}/{tail}"


def test_the_statement_page_shows_base_amount_and_lines(net_a, draft):
    response = net_a.viewer.browser_client().get(_url(draft))
    assert response.status_code == 200
    html = response.content.decode()
    assert "ИП Панельный" in html
    assert 'id="statement-base">1\xa0000,00 ₽' in html
    assert 'id="statement-amount">100,00 ₽' in html
    assert 'id="approve"' not in html  # a viewer sees no approval button


def test_only_the_owner_approves(net_a, draft):
    assert net_a.admin.browser_client().post(_url(draft, "approve/")).status_code == 403
    assert net_a.viewer.browser_client().post(_url(draft, "approve/")).status_code == 403
    with tenant_context(net_a.network):
        assert RoyaltyStatement.objects.get(pk=draft.pk).status == "draft"
        assert not AuditEntry.objects.filter(action="royalty.approve").exists()

    response = net_a.owner.browser_client().post(_url(draft, "approve/"))

    assert response.status_code == 302
    with tenant_context(net_a.network):
        assert RoyaltyStatement.objects.get(pk=draft.pk).status == "approved"
        assert AuditEntry.objects.get(action="royalty.approve").actor == net_a.owner.email


def test_the_owner_sets_a_tiered_rule_with_clear_errors(net_a, draft):
    client = net_a.owner.browser_client()
    url = f"/panel/royalties/rules/{draft.partner_id}/"
    bad = client.post(url, {"kind": "tiers", "tiers": "100: 5"})
    assert bad.status_code == 200
    assert "Первая ступень должна начинаться с нуля" in bad.content.decode()
    good = client.post(
        url,
        {
            "kind": "tiers",
            "tiers": "0: 6\n500 000: 4",
            "minimum": "1000,00",
            "email": "p@example.com",
        },
    )
    assert good.status_code == 302
    with tenant_context(net_a.network):
        rule = RoyaltyRule.objects.get(partner_id=draft.partner_id)
        assert rule.tiers == [
            {"from": "0.00", "percent": "6.00"},
            {"from": "500000.00", "percent": "4.00"},
        ]
        assert rule.minimum == Decimal("1000.00") and rule.email == "p@example.com"
        assert AuditEntry.objects.filter(action="royalty.rule").count() == 2


@pytest.mark.parametrize(("fmt", "start"), [("pdf", b"%PDF"), ("xlsx", b"PK"), ("csv", b"\xef")])
def test_exports_download(net_a, draft, fmt, start):
    response = net_a.viewer.browser_client().get(_url(draft, f"export.{fmt}"))
    assert response.status_code == 200
    assert response.content.startswith(start)
    assert "attachment" in response["Content-Disposition"]


def test_another_networks_statement_is_the_panels_404(net_b, draft):
    client = net_b.owner.browser_client()
    assert client.get(_url(draft)).status_code == 404
    assert client.post(_url(draft, "approve/")).status_code == 404
    assert client.get("/panel/royalties/statements/not-a-uuid/").status_code == 404
