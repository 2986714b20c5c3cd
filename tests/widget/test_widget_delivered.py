"""«Услуга оказана» in the built widget (Chromium, against the Widget API stub): the button posts
to /delivered with a fresh token, the card then shows the delivery and its final receipts, and
the button is gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .stub_backend import StubBackend
from .test_widget_in_browser import open_card, shoot

pytestmark = pytest.mark.browser


def test_deliver_button_marks_the_service_and_shows_the_receipts(
    page: Any, widget_host: Any, stub: StubBackend, minted_tokens: Any, artifacts: Path
) -> None:
    root = open_card(page, widget_host, 7004)
    button = root.locator(".js-fpl-deliver")
    expect(button).to_have_text("Услуга оказана")
    expect(root.locator(".js-fpl-delivered")).to_have_count(0)

    button.click()

    expect(root.locator(".js-fpl-notice")).to_have_text(
        "Услуга отмечена оказанной: итоговые чеки отправятся сами"
    )
    expect(root.locator(".js-fpl-delivered")).to_contain_text("Услуга оказана ")
    expect(root.locator(".js-fpl-receipts")).to_contain_text(
        "Итоговые чеки: зарегистрировано 1 из 2"
    )
    expect(root.locator(".js-fpl-receipts-failed")).to_contain_text("С ошибкой: 1")
    expect(root.locator(".js-fpl-deliver")).to_have_count(0)
    posts = stub.calls("POST")
    assert [p.path.split("?")[0] for p in posts] == ["/api/widget/v1/leads/7004/delivered"]
    assert posts[0].claims is not None and posts[0].headers["X-Auth-Token"] in minted_tokens.minted
    shoot(page, artifacts, "delivered")


def test_no_deliver_button_without_links(page: Any, widget_host: Any, stub: StubBackend) -> None:
    root = open_card(page, widget_host, 7002)
    expect(root.locator(".fpl-empty")).to_contain_text("Ссылки ещё не сформированы")
    expect(root.locator(".js-fpl-deliver")).to_have_count(0)
