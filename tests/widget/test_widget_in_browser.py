"""The built widget in Chromium, inside a stand-in of amoCRM's lead card, against the Widget API stub.

Screenshots go to tests/artifacts/widget_*.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .stub_backend import (
    BOUND_ACCOUNT,
    CLAIM_CODE,
    CLAIM_EXPIRES_LOCAL,
    UNBOUND_ACCOUNT,
    StubBackend,
)

pytestmark = pytest.mark.browser

NBSP = "\u00a0"
ROOT = ".js-fpl-root"


def money(text: str) -> str:
    """The widget's money format with the non-breaking spaces it uses: "1 500,00 ₽"."""
    return text.replace(" ", NBSP)


def open_card(page: Any, host: Any, lead: int, account: int = BOUND_ACCOUNT, **params: Any) -> Any:
    page.goto(
        host.card_url(
            lead=lead, account=account, subdomain=params.pop("subdomain", "chezaquest"), **params
        )
    )
    page.wait_for_selector("body[data-widget-ready]")
    return page.locator(ROOT)


def shoot(page: Any, artifacts: Path, name: str) -> Path:
    """The right panel down to the widget's bottom edge, as a manager sees it."""
    panel = page.locator("#widgets-panel").bounding_box()
    block = page.locator(".amo-widget").bounding_box()
    path = artifacts / f"widget_{name}.png"
    page.screenshot(
        path=str(path),
        clip={
            "x": panel["x"],
            "y": 0,
            "width": panel["width"],
            "height": block["y"] + block["height"] + 14,
        },
    )
    return path


def link_card(root: Any, kind: str) -> Any:
    return root.locator(f".fpl-link[data-kind='{kind}']")


# ------------------------------------------------------------------------------ links


def test_card_shows_partner_location_sums_and_both_links(
    page: Any, widget_host: Any, stub: StubBackend, artifacts: Path
) -> None:
    root = open_card(
        page, widget_host, 7001, note="Сначала отправьте клиенту ссылку на предоплату."
    )

    expect(root.locator(".js-fpl-partner")).to_contain_text("ИП Иванов Иван Иванович")
    expect(root.locator(".js-fpl-location")).to_contain_text(
        "Квест «Тайная комната», ул. Баумана 1"
    )
    expect(root.locator(".fpl-deal")).to_contain_text(money("5 000,00 ₽"))
    expect(root.locator(".fpl-deal__status")).to_have_text("Не оплачена")

    prepayment, full = link_card(root, "prepayment"), link_card(root, "full")
    expect(prepayment.locator(".fpl-link__kind")).to_have_text("Предоплата")
    expect(prepayment.locator(".fpl-link__amount")).to_have_text(money("1 500,00 ₽"))
    expect(prepayment.locator(".fpl-link__status")).to_have_text("Активна")
    expect(full.locator(".fpl-link__kind")).to_have_text("Полная оплата")
    expect(full.locator(".fpl-link__amount")).to_have_text(money("5 000,00 ₽"))
    expect(full.locator(".fpl-link__status")).to_have_text("Активна")
    expect(prepayment.locator("a.fpl-link__url")).to_have_attribute(
        "href", "http://chezaquest.localhost:8000/pay/Xq7Lp2VbN9sKd4Tw"
    )
    expect(prepayment.locator("a.fpl-link__url")).to_have_attribute("target", "_blank")
    expect(root.locator(".js-fpl-copy")).to_have_count(2)
    expect(root.locator(".js-fpl-generate")).to_have_text("Сформировать ссылки")
    expect(root.locator(".js-fpl-generate")).to_be_enabled()
    expect(root.locator(".js-fpl-note")).to_have_text(
        "Сначала отправьте клиенту ссылку на предоплату."
    )
    expect(root.locator(".fpl-foot")).to_contain_text("Обновлено в")

    [get] = stub.calls("GET")
    assert get.path.startswith("/api/widget/v1/leads/7001/links")
    assert get.claims is not None
    assert get.claims["account_id"] == BOUND_ACCOUNT
    assert get.headers["Origin"] == widget_host.url

    shoot(page, artifacts, "links")
    page.screenshot(path=str(artifacts / "widget_card_context.png"))


def test_generate_posts_with_a_fresh_token_and_rerenders(
    page: Any, widget_host: Any, stub: StubBackend, minted_tokens: Any, artifacts: Path
) -> None:
    root = open_card(page, widget_host, 7002)
    expect(root.locator(".fpl-empty")).to_contain_text("Ссылки ещё не сформированы")
    expect(root.locator(".js-fpl-copy")).to_have_count(0)
    shoot(page, artifacts, "no_links")

    button = root.locator(".js-fpl-generate")
    button.click()
    expect(button).to_have_text("Формируем ссылки…")
    expect(button).to_be_disabled()

    expect(link_card(root, "prepayment").locator(".fpl-link__amount")).to_have_text(
        money("3 750,00 ₽")
    )
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("12 500,00 ₽"))
    expect(root.locator(".js-fpl-notice")).to_have_text("Ссылки готовы и записаны в сделку")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Сформировать ссылки")

    [post] = stub.calls("POST")
    assert post.path.startswith("/api/widget/v1/leads/7002/links")
    assert post.headers["X-Auth-Token"] in minted_tokens.minted
    assert post.claims is not None, "the stub verified the token: signature, audience, expiry, jti"
    assert post.headers["Content-Type"].startswith("application/json")
    [get] = stub.calls("GET")
    assert get.headers["X-Auth-Token"] != post.headers["X-Auth-Token"], "a new token for every call"
    shoot(page, artifacts, "generated")


def test_refresh_reads_the_deal_again(
    page: Any, widget_host: Any, stub: StubBackend, artifacts: Path
) -> None:
    root = open_card(page, widget_host, 7001)
    expect(link_card(root, "prepayment").locator(".fpl-link__status")).to_have_text("Активна")

    # the customer pays the prepayment meanwhile
    stub.leads[7001] = {"get": stub.leads[7004]["get"] | {"lead_id": 7001}}
    root.locator(".js-fpl-refresh").click()

    expect(link_card(root, "prepayment").locator(".fpl-link__status")).to_have_text("Оплачена")
    expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(money("3 500,00 ₽"))
    expect(root.locator(".fpl-deal__status")).to_have_text("Оплачена частично")
    expect(root.locator(".fpl-deal__num_paid")).to_contain_text(money("1 500,00 ₽"))
    assert len(stub.calls("GET")) == 2
    assert stub.calls("POST") == []
    shoot(page, artifacts, "partially_paid")


def test_copy_button_puts_the_link_on_the_clipboard(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 7001)
    copy = link_card(root, "full").locator(".js-fpl-copy")
    expect(copy).to_have_text("Копировать")
    copy.click()
    expect(copy).to_have_text("Скопировано")
    assert (
        page.evaluate("navigator.clipboard.readText()")
        == "http://chezaquest.localhost:8000/pay/Mz3Rt8YcH5fGa1Ue"
    )
    expect(copy).to_have_text("Копировать", timeout=4000)


def test_backend_data_is_shown_as_text_and_only_web_links_are_clickable(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 7007)
    expect(root.locator(".js-fpl-partner")).to_contain_text(
        '<img src=x onerror="window.fplPwned=1">'
    )
    expect(root.locator("img")).to_have_count(0)
    expect(link_card(root, "prepayment").locator("a")).to_have_count(0)
    expect(link_card(root, "prepayment").locator(".js-fpl-copy")).to_have_count(0)
    expect(link_card(root, "full").locator("a.fpl-link__url")).to_have_count(1)
    assert page.evaluate("window.fplPwned") is None


# ------------------------------------------------------------------------------ errors

ERRORS = [
    # (lead, message shown, screenshot)
    (7003, "В сделке не выбрана локация", "error_422"),
    (7404, "Сделка не найдена в amoCRM", "error_404"),
    (7401, "Сессия amoCRM устарела. Обновите страницу.", "error_401"),
    (7403, "Нет доступа к ссылкам этой сделки.", "error_403"),
    (
        7429,
        "Слишком много запросов. Подождите немного и попробуйте снова. Повторите через 30 с.",
        "error_429",
    ),
    (7500, "Сервис ссылок временно недоступен. Попробуйте через несколько минут.", "error_500"),
]


@pytest.mark.parametrize(("lead", "message", "shot"), ERRORS, ids=[e[2] for e in ERRORS])
def test_error_answer_shows_a_clear_russian_message(
    page: Any,
    widget_host: Any,
    stub: StubBackend,
    artifacts: Path,
    lead: int,
    message: str,
    shot: str,
) -> None:
    root = open_card(page, widget_host, lead)
    expect(root.locator(".js-fpl-error .fpl-alert__text")).to_have_text(message)
    expect(root.locator(".js-fpl-generate")).to_be_enabled()  # the manager can try again
    expect(root.locator(".js-fpl-connect")).to_have_count(0)
    if lead == 7500:
        expect(root.locator(".js-fpl-error a")).to_have_text("Написать в поддержку")
    shoot(page, artifacts, shot)

    with page.expect_response(lambda r: r.request.method == "GET" and "/links" in r.url):
        root.locator(".js-fpl-error .js-fpl-refresh").click()  # «Повторить» asks again
    expect(root.locator(".js-fpl-error .fpl-alert__text")).to_have_text(message)
    assert len(stub.calls("GET")) == 2


def test_failed_generation_keeps_the_message_and_the_button(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 7003)
    expect(root.locator(".js-fpl-error")).to_contain_text("В сделке не выбрана локация")
    root.locator(".js-fpl-generate").click()
    expect(root.locator(".js-fpl-generate")).to_be_enabled()
    expect(root.locator(".js-fpl-error .fpl-alert__text")).to_have_text(
        "В сделке не выбрана локация"
    )
    [post] = stub.calls("POST")
    assert post.path.startswith("/api/widget/v1/leads/7003/links")


def test_network_failure_is_explained(
    page: Any, widget_host: Any, widget_backend: Any, stub: StubBackend, artifacts: Path
) -> None:
    page.route(re.compile(re.escape(widget_backend.url) + "/.*"), lambda route: route.abort())
    root = open_card(page, widget_host, 7001)
    expect(root.locator(".js-fpl-error .fpl-alert__text")).to_have_text(
        "Нет связи с сервисом ссылок. Проверьте интернет и попробуйте ещё раз."
    )
    expect(root.locator(".js-fpl-error a")).to_have_attribute("href", widget_backend.url + "/")
    shoot(page, artifacts, "error_network")


# ------------------------------------------------------------------------------ not bound


def test_unbound_account_is_asked_to_connect_a_network(
    page: Any, widget_host: Any, widget_backend: Any, stub: StubBackend, artifacts: Path
) -> None:
    root = open_card(page, widget_host, 7001, account=UNBOUND_ACCOUNT, subdomain="newquest")
    connect = root.locator(".js-fpl-connect")
    expect(connect.locator(".fpl-connect__title")).to_have_text("Подключите сеть")
    expect(connect).to_contain_text("«newquest»")
    signup = connect.locator(".js-fpl-signup")
    expect(signup).to_have_text("Зарегистрировать новую сеть")
    # The sign-up link carries the claim code, so the new network gets this account at once.
    expect(signup).to_have_attribute(
        "href",
        f"{widget_backend.url}/signup/?amocrm_account={UNBOUND_ACCOUNT}&subdomain=newquest"
        f"&claim={CLAIM_CODE}",
    )
    expect(root.locator(".js-fpl-generate")).to_have_count(0)
    steps = connect.locator(".js-fpl-bind-steps")
    expect(steps).to_be_hidden()
    shoot(page, artifacts, "connect")
    claim_calls = [r for r in stub.calls("POST") if r.path == "/api/widget/v1/claim-code"]
    assert len(claim_calls) == 1
    assert claim_calls[0].claims["account_id"] == UNBOUND_ACCOUNT  # asked with amoCRM's token

    connect.locator(".js-fpl-bind-toggle").click()
    expect(connect.locator(".js-fpl-bind-toggle")).to_have_text("Привязать к существующей сети")
    expect(steps).to_be_visible()
    expect(steps).to_contain_text("Откройте панель своей сети")
    expect(steps).to_contain_text("«Интеграции»")
    expect(steps.locator(".js-fpl-claim-code")).to_have_text(CLAIM_CODE)
    expect(steps.locator(".js-fpl-claim-expires")).to_have_text(
        f"Действует до {CLAIM_EXPIRES_LOCAL}, срабатывает один раз"
    )
    assert str(UNBOUND_ACCOUNT) not in steps.inner_text()  # the account id is no proof any more
    shoot(page, artifacts, "connect_bind")

    # once the owner binds the account, «check again» shows the links
    stub.bound_accounts.add(UNBOUND_ACCOUNT)
    try:
        connect.locator(".js-fpl-refresh").click()
        expect(link_card(root, "full").locator(".fpl-link__amount")).to_have_text(
            money("5 000,00 ₽")
        )
    finally:
        stub.bound_accounts.discard(UNBOUND_ACCOUNT)


def test_claim_code_trouble_is_explained_and_can_be_retried(
    page: Any, widget_host: Any, widget_backend: Any, stub: StubBackend, artifacts: Path
) -> None:
    stub.uninstalled_accounts.add(UNBOUND_ACCOUNT)
    root = open_card(page, widget_host, 7001, account=UNBOUND_ACCOUNT, subdomain="newquest")
    connect = root.locator(".js-fpl-connect")
    connect.locator(".js-fpl-bind-toggle").click()
    expect(connect.locator(".js-fpl-claim-error")).to_have_text(
        "Установка виджета ещё не завершилась. Подождите минуту."
    )
    # Without a code the sign-up link still works, only without the binding.
    expect(connect.locator(".js-fpl-signup")).to_have_attribute(
        "href", f"{widget_backend.url}/signup/?amocrm_account={UNBOUND_ACCOUNT}&subdomain=newquest"
    )
    shoot(page, artifacts, "connect_code_error")

    stub.uninstalled_accounts.clear()
    connect.locator(".js-fpl-claim-retry").click()
    expect(connect.locator(".js-fpl-claim-code")).to_have_text(CLAIM_CODE)


def test_a_click_survives_a_repaint_between_press_and_release(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    """The claim code's answer repaints the card while the manager is pressing «Привязать»:
    the press and the release land on the same button, so the click counts (a card redrawn from
    scratch would replace the button under the pointer and the browser would drop the click)."""
    stub.uninstalled_accounts.add(UNBOUND_ACCOUNT)
    stub.claim_gate.clear()  # the claim code's answer waits
    root = open_card(page, widget_host, 7001, account=UNBOUND_ACCOUNT, subdomain="newquest")
    connect = root.locator(".js-fpl-connect")
    expect(connect.locator(".js-fpl-claim-loading")).to_have_count(1)
    toggle = connect.locator(".js-fpl-bind-toggle")
    box = toggle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    stub.claim_gate.set()  # the answer arrives between the press and the release
    expect(connect.locator(".js-fpl-claim-error")).to_have_count(1)
    page.mouse.up()
    expect(connect.locator(".js-fpl-bind-steps")).to_be_visible()
    expect(connect.locator(".js-fpl-claim-retry")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")


def test_connect_screen_in_english(
    page: Any, widget_host: Any, stub: StubBackend, artifacts: Path
) -> None:
    root = open_card(
        page, widget_host, 7001, account=UNBOUND_ACCOUNT, subdomain="newquest", lang="en"
    )
    connect = root.locator(".js-fpl-connect")
    connect.locator(".js-fpl-bind-toggle").click()
    expect(connect.locator(".fpl-connect__title")).to_have_text("Connect a network")
    expect(connect.locator(".js-fpl-claim-expires")).to_have_text(
        f"Valid until {CLAIM_EXPIRES_LOCAL}, works once"
    )
    for text in connect.locator("li, button, a, .fpl-connect__title").all_inner_texts():
        assert not re.search("[а-яё]", text, re.IGNORECASE), text
    shoot(page, artifacts, "connect_en")


# ------------------------------------------------------------------------------ host contract


def test_new_unsaved_deal_asks_to_save_and_calls_nothing(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 0)
    expect(root.locator(".fpl-empty")).to_have_text(
        "Сохраните сделку — после этого здесь можно будет сформировать ссылки на оплату."
    )
    assert stub.requests == []


def test_outside_the_lead_card_nothing_is_drawn(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    open_card(page, widget_host, 7001, area="llist")
    expect(page.locator(".amo-widget")).to_have_count(0)
    assert stub.requests == []


def test_english_locale(page: Any, widget_host: Any, stub: StubBackend, artifacts: Path) -> None:
    root = open_card(page, widget_host, 7001, lang="en")
    expect(root.locator(".js-fpl-generate")).to_have_text("Generate links")
    expect(link_card(root, "prepayment").locator(".fpl-link__kind")).to_have_text("Prepayment")
    expect(link_card(root, "full").locator(".fpl-link__status")).to_have_text("Active")
    ui = root.locator(".fpl-row__label, .fpl-deal__label, .fpl-pill, .fpl-link__kind, button")
    for text in ui.all_inner_texts():
        assert not re.search("[а-яё]", text, re.IGNORECASE), text
    shoot(page, artifacts, "en")


def test_russian_fallback_when_amocrm_i18n_has_no_strings(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 7001, **{"i18n": "none"})
    expect(root.locator(".js-fpl-generate")).to_have_text("Сформировать ссылки")
    expect(link_card(root, "full").locator(".fpl-link__kind")).to_have_text("Полная оплата")


def test_settings_modal_explains_how_to_connect(
    page: Any, widget_host: Any, widget_backend: Any, stub: StubBackend, artifacts: Path
) -> None:
    open_card(page, widget_host, 7001, modal=1)
    info = page.locator(".js-modal-body .fpl-settings")
    expect(info).to_contain_text(widget_backend.url.split("://", 1)[1])
    expect(info).to_contain_text("показывает код привязки")
    assert str(BOUND_ACCOUNT) not in info.inner_text()  # an account id is not a code
    expect(info.locator("a")).to_have_attribute(
        "href", f"{widget_backend.url}/signup/?amocrm_account={BOUND_ACCOUNT}&subdomain=chezaquest"
    )
    page.locator(".amo-modal__window").screenshot(path=str(artifacts / "widget_settings.png"))
    assert stub.requests == []


def test_destroy_removes_the_panel_and_its_handlers(
    page: Any, widget_host: Any, stub: StubBackend
) -> None:
    root = open_card(page, widget_host, 7001)
    expect(root.locator(".js-fpl-copy")).to_have_count(2)
    page.evaluate("window.fplWidget.callbacks.destroy.call(window.fplWidget)")
    expect(page.locator(ROOT)).to_have_count(0)
    events = page.evaluate("Object.keys(jQuery._data(document, 'events') || {})")
    assert "click" not in events
