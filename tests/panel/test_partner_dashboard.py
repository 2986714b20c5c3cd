"""The dashboard in a franchisee's window: every figure is its partner's, and naming another
partner in the filter is answered like naming one that does not exist, with none of its money."""

from __future__ import annotations

import re

import pytest

from .test_partner_role import _html, network  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_dashboard_figures_are_the_partners_only(network):  # noqa: F811
    html = _html(network["client"].get("/panel/dashboard/"))

    assert re.search(r'id="dash-turnover">\s*1\s?500,00 ₽', html)
    assert "Уфа" not in html and "ИП Уфимцев" not in html


def test_dashboard_asked_for_another_partner_shows_none_of_its_money(network):  # noqa: F811
    response = network["client"].get(f"/panel/dashboard/?partner={network['ufa'].pk}")
    html = response.content.decode()

    assert response.status_code == 400  # «Такого партнёра в сети нет.», as for a missing one
    assert "Такого партнёра в сети нет." in html
    assert not re.search(r"2\s?700,00", html) and "ИП Уфимцев" not in html


def test_the_partner_filter_offers_only_the_own_partner(network):  # noqa: F811
    html = _html(network["client"].get("/panel/dashboard/"))
    select = re.search(r'<select name="partner".*?</select>', html, re.S)

    assert select is not None
    options = re.findall(r'<option value="([^"]*)"', select.group(0))
    assert options == [str(network["kazan"].pk)]  # no «Все партнёры», no other partner
    assert "Все партнёры" not in select.group(0)
    own = _html(network["client"].get(f"/panel/dashboard/?partner={network['kazan'].pk}"))
    assert re.search(r'id="dash-turnover">\s*1\s?500,00 ₽', own)
