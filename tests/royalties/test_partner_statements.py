"""Royalty statements in a franchisee's window: its own statement and rule only, another partner's
statement (page and PDF/XLSX/CSV) is the panel's 404, rules, drafting, approval and sending are
refused. (The API's statements: tests/network/test_partner_api.py.)"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from franchise_platform.royalties.services import statement_draft
from tests.panel.test_dashboard import days_ago
from tests.panel.test_partner_role import _html, network  # noqa: F401  (fixture)
from tests.royalties.helpers import set_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def statements(network):  # noqa: F811
    for partner in (network["kazan"], network["ufa"]):
        set_rule(partner, kind="percent", percent=Decimal("10"))
    period = days_ago(1).date().replace(day=1)
    month_after = timezone.make_aware(
        datetime.combine((period + timedelta(days=32)).replace(day=2), datetime.min.time())
    )
    return {
        partner: statement_draft(partner_id=network[partner].pk, period=period, now=month_after)
        for partner in ("kazan", "ufa")
    }


def test_royalties_show_the_partners_statement_and_rule_only(network, statements):  # noqa: F811
    client = network["client"]

    overview = _html(client.get("/panel/royalties/"))
    own = _html(client.get(f"/panel/royalties/statements/{statements['kazan'].pk}/"))

    assert "ИП Казанцев" in overview and "ИП Уфимцев" not in overview
    assert f"/panel/royalties/statements/{statements['ufa'].pk}/" not in overview
    assert "ИП Казанцев" in own
    assert 'href="/panel/royalties/"' in _html(client.get("/panel/"))  # in its navigation


@pytest.mark.parametrize("suffix", ["", "export.pdf", "export.xlsx", "export.csv"])
def test_another_partners_statement_is_the_panels_404(network, statements, suffix):  # noqa: F811
    client = network["client"]

    other = client.get(f"/panel/royalties/statements/{statements['ufa'].pk}/{suffix}")
    missing = client.get(f"/panel/royalties/statements/{uuid.uuid4()}/{suffix}")
    own = client.get(f"/panel/royalties/statements/{statements['kazan'].pk}/{suffix}")

    assert other.status_code == missing.status_code == 404
    assert own.status_code == 200


def test_royalty_rules_drafting_and_approval_are_refused(network, statements):  # noqa: F811
    client = network["client"]
    kazan = statements["kazan"]

    answers = [
        client.get(f"/panel/royalties/rules/{network['kazan'].pk}/"),
        client.post("/panel/royalties/draft/"),
        client.post(f"/panel/royalties/statements/{kazan.pk}/approve/"),
        client.post(f"/panel/royalties/statements/{kazan.pk}/send/"),
        client.post(f"/panel/royalties/statements/{kazan.pk}/redraft/"),
    ]

    assert [a.status_code for a in answers] == [403] * len(answers)
    kazan.refresh_from_db()
    assert kazan.status == "draft" and kazan.sent_at is None
