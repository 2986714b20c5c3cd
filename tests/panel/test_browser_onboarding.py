"""An owner onboards a franchisee in a real Chromium against a real server; a viewer cannot edit.

Every page visited is saved under tests/artifacts/panel/ at desktop and phone width.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.network.models import Location, NetworkSettings, Partner
from franchise_platform.security.models import AuditEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

BAD_INN = "500100732258"  # the contract's example with its last control digit broken
GOOD_INN = "500100732259"
PASSWORD_1 = "Sentinel-Pass1-7f3a"
PASSWORD_2 = "Sentinel-Pass2-9c1d"


def _count(net, model) -> int:
    with tenant_context(net.network):
        return model.objects.count()


def test_owner_onboards_a_franchisee_and_a_viewer_cannot_edit(panel_site, shoot):
    net = panel_site.net
    page = panel_site.new_page()

    page.goto(panel_site.url("/panel/"))
    assert "/panel/login/" in page.url
    shoot(page, "01-login")
    panel_site.login(page, net.owner)
    shoot(page, "02-home-empty")

    page.click("nav >> text=Партнёры")
    shoot(page, "03-partners-empty")
    page.click("main >> text=Добавить партнёра")
    page.wait_for_url(re.compile(r".*/partners/new/$"))
    shoot(page, "04-partner-new")

    # A wrong INN: the inline (htmx) hint says so while typing, the submit re-renders with the
    # message beside the field, and nothing is saved.
    page.fill("input[name=name]", "ИП Иванов Иван Иванович")
    page.fill("input[name=inn]", BAD_INN)
    page.wait_for_selector("#inn-hint .field-error")
    page.fill("input[name=merchant_login]", "chq-kazan-1")
    page.fill("input[name=password1]", PASSWORD_1)
    page.fill("input[name=password2]", PASSWORD_2)
    page.click("button:has-text('Добавить партнёра')")
    page.wait_for_selector("#field-inn .field-error")
    assert "ИНН неверен" in page.inner_text("#field-inn")
    assert _count(net, Partner) == 0
    # The passwords are not echoed back into the re-rendered form.
    assert PASSWORD_1 not in page.content()
    shoot(page, "05-partner-new-bad-inn")

    page.fill("input[name=inn]", GOOD_INN)
    page.wait_for_selector("#inn-hint .field-ok")
    page.fill("input[name=password1]", PASSWORD_1)
    page.fill("input[name=password2]", PASSWORD_2)
    page.click("button:has-text('Добавить партнёра')")
    page.wait_for_url(re.compile(r".*/panel/partners/[0-9a-f-]{36}/$"))
    with tenant_context(net.network):
        partner = Partner.objects.get()
        assert partner.inn == GOOD_INN
        assert partner.provider_account.password1 == PASSWORD_1
        assert partner.provider_account.hash_algorithm == "md5"
        assert partner.provider_account.test_mode is False
    result_url = page.inner_text("#url-result").strip()
    assert result_url.endswith(f"/callbacks/robokassa/{partner.pk}/result/")
    assert "метод POST" in page.inner_text("main")
    page.click("button[data-copy='#url-result']")
    page.wait_for_selector("button[data-copy='#url-result'].is-copied")
    assert page.evaluate("navigator.clipboard.readText()") == result_url
    assert PASSWORD_1 not in page.content() and PASSWORD_2 not in page.content()
    shoot(page, "06-partner-detail")

    for name in ("Квест «Тайная комната»", "Квест «Шерлок»"):
        page.click("main >> text=Добавить локацию >> nth=0")
        page.wait_for_url(re.compile(r".*/locations/new/.*"))
        assert page.locator("select[name=partner] option:checked").inner_text() == partner.name
        page.fill("input[name=name]", name)
        if name.endswith("комната»"):
            shoot(page, "07-location-new")
        page.click("button:has-text('Добавить локацию')")
        page.wait_for_url(re.compile(r".*/panel/partners/[0-9a-f-]{36}/$"))
    with tenant_context(net.network):
        assert set(Location.objects.filter(partner=partner).values_list("name", flat=True)) == {
            "Квест «Тайная комната»",
            "Квест «Шерлок»",
        }
    shoot(page, "08-partner-with-locations")

    page.click("nav >> text=Локации")
    shoot(page, "09-locations")
    page.click("tr:has-text('Шерлок') >> text=Изменить")
    shoot(page, "10-location-edit")
    page.click("text=Отмена")

    # The prepayment rule: an impossible percent is refused beside its field, then a fixed sum.
    page.click("nav >> text=Настройки")
    page.fill("input[name=prepayment_value]", "150")
    page.click("button:has-text('Сохранить настройки')")
    page.wait_for_selector("#field-prepayment_value .field-error")
    with tenant_context(net.network):
        assert NetworkSettings.objects.get().prepayment_value == Decimal("30.00")
    shoot(page, "11-settings-error")
    page.check("input[name=prepayment_mode][value=fixed]")
    page.fill("input[name=prepayment_value]", "1000")
    page.click("button:has-text('Сохранить настройки')")
    page.wait_for_selector(".alert-success")
    with tenant_context(net.network):
        rule = NetworkSettings.objects.get()
        assert (rule.prepayment_mode, rule.prepayment_value) == ("fixed", Decimal("1000.00"))
    shoot(page, "12-settings-saved")

    page.click("nav >> text=API-токены")
    page.fill("input[name=name]", "Выгрузка в 1С")
    page.click("button:has-text('Создать')")
    token_value = page.inner_text("#token-value").strip()
    assert token_value.startswith("fp_")
    shoot(page, "13-token-created")
    page.reload()
    assert token_value not in page.content()

    page.click("nav >> text=Журнал")
    audit_html = page.content()
    assert "изменён" in audit_html
    assert PASSWORD_1 not in audit_html and PASSWORD_2 not in audit_html
    shoot(page, "14-audit")
    with tenant_context(net.network):
        stored = " ".join(str(e.changes) for e in AuditEntry.objects.all())
    assert PASSWORD_1 not in stored and PASSWORD_2 not in stored

    page.goto(panel_site.url(f"/panel/partners/{uuid.uuid4()}/"))
    shoot(page, "15-not-found")
    page.click("nav >> text=Обзор")
    shoot(page, "16-home-filled")
    page.context.close()

    # The viewer: sees everything, no edit controls anywhere, a forced POST answers 403.
    viewer = panel_site.new_page()
    panel_site.login(viewer, net.viewer)
    viewer.goto(panel_site.url("/panel/partners/"))
    assert viewer.locator("[data-role=edit]").count() == 0
    assert viewer.locator("text=Добавить партнёра").count() == 0
    viewer.goto(panel_site.url(f"/panel/partners/{partner.pk}/"))
    assert viewer.locator("[data-role=edit]").count() == 0
    shoot(viewer, "17-viewer-partner")
    viewer.goto(panel_site.url("/panel/settings/"))
    assert viewer.locator("button:has-text('Сохранить настройки')").count() == 0
    assert viewer.locator("input[name=prepayment_value]").is_disabled()
    shoot(viewer, "18-viewer-settings")
    status = viewer.evaluate(
        """async (url) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const body = new URLSearchParams({prepayment_mode: "percent", prepayment_value: "10",
                                              invoice_ttl_hours: "1", item_name: "x"});
            const answer = await fetch(url, {method: "POST", body, headers: {"X-CSRFToken": token}});
            return answer.status;
        }""",
        panel_site.url("/panel/settings/"),
    )
    assert status == 403
    forced = viewer.evaluate(
        """async (url) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            return (await fetch(url, {method: "POST", headers: {"X-CSRFToken": token}})).status;
        }""",
        panel_site.url(f"/panel/partners/{partner.pk}/toggle/"),
    )
    assert forced == 403
    with tenant_context(net.network):
        rule = NetworkSettings.objects.get()
        assert (rule.prepayment_mode, rule.prepayment_value) == ("fixed", Decimal("1000.00"))
        assert Partner.objects.get().active is True
    viewer.goto(panel_site.url("/panel/partners/new/"))
    assert viewer.locator("h1:has-text('Нет доступа')").count() == 1
    shoot(viewer, "19-viewer-forbidden")
    viewer.context.close()
