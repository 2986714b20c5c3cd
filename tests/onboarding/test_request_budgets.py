"""Budgets on what anybody can ask of the platform host: verification e-mails of sign-ups naming
one mailbox, and the live check of a network's address."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import forget_budgets
from tests.personas import platform_client

from .conftest import signup_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def budgets(settings):
    settings.EMAILS_PER_RECIPIENT_PER_HOUR = 3
    settings.SLUG_CHECKS_PER_ADDRESS_PER_MINUTE = 5
    forget_budgets()
    yield
    forget_budgets()


def test_sign_ups_naming_one_mailbox_send_it_three_e_mails_at_most(budgets, mailoutbox):
    answers = [
        platform_client().post(
            "/signup/", signup_body(owner_email="victim@example.com"), REMOTE_ADDR=f"192.0.2.{n}"
        )
        for n in range(5)
    ]

    assert [a.status_code for a in answers] == [302] * 5  # the networks stand
    assert [m.to for m in mailoutbox] == [["victim@example.com"]] * 3


def test_the_address_check_is_limited_per_client_address_with_a_russian_answer(budgets):
    def check(slug: str, ip: str):
        return platform_client().get("/signup/check-slug/", {"slug": slug}, REMOTE_ADDR=ip)

    answers = [check(f"probe-{n}", "198.51.100.7") for n in range(6)]
    elsewhere = check("probe-x", "198.51.100.8")

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert "Слишком много проверок адреса подряд" in answers[-1].content.decode()
    assert elsewhere.status_code == 200 and "Адрес свободен" in elsewhere.content.decode()


def test_the_sign_up_page_swaps_a_429_answer_in(budgets):
    """htmx leaves error answers out by default; the page's config shows the wait message."""
    html = platform_client().get("/signup/").content.decode()

    assert '{"code": "429", "swap": true, "error": false}' in html
