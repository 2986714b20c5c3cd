"""Nobody can bomb a mailbox through the password reset or the verification e-mail: per client
address and per recipient, answered alike whether or not an account has the e-mail."""

from __future__ import annotations

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mail_budgets")]

TOO_MANY_FOR_EMAIL = "Слишком много писем на этот e-mail за последний час"
TOO_MANY_FROM_ADDRESS = "Слишком много запросов писем с вашего адреса"


def _reset(net, email: str, ip: str):
    return net.anonymous().post("/panel/password-reset/", {"email": email}, REMOTE_ADDR=ip)


def test_a_mailbox_gets_at_most_three_reset_e_mails_an_hour_from_any_addresses(net_a):
    mail.outbox.clear()

    answers = [_reset(net_a, net_a.admin.email, f"192.0.2.{n}") for n in range(1, 6)]

    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    assert TOO_MANY_FOR_EMAIL in answers[3].content.decode()


def test_one_address_cannot_mail_many_mailboxes(net_a):
    mail.outbox.clear()

    answers = [_reset(net_a, f"person{n}@example.com", "198.51.100.7") for n in range(11)]
    elsewhere = _reset(net_a, "someone@example.com", "198.51.100.8")

    assert [a.status_code for a in answers] == [302] * 10 + [429]
    assert TOO_MANY_FROM_ADDRESS in answers[-1].content.decode()
    assert elsewhere.status_code == 302


def test_an_unknown_email_is_answered_exactly_like_a_known_one(net_a):
    def answers(email: str, ip_prefix: str) -> list[tuple[int, str]]:
        out = []
        for n in range(5):
            response = _reset(net_a, email, f"{ip_prefix}.{n}")
            out.append((response.status_code, response.get("Location", "")))
            text = response.content.decode().replace(email, "<e-mail>")
            out.append((0, text.split('name="csrfmiddlewaretoken"')[0]))
        return out

    assert answers(net_a.viewer.email, "192.0.2") == answers("nobody@example.com", "203.0.113")


def test_the_verification_e_mail_is_sent_again_at_most_three_times_an_hour(net_a):
    with tenant_context(net_a.network):
        User.objects.filter(email=net_a.viewer.email).update(email_verified_at=None)
    client = net_a.viewer.browser_client()
    mail.outbox.clear()

    pages = [
        client.post("/panel/verify-email/resend/", follow=True).content.decode() for _ in range(4)
    ]

    assert len(mail.outbox) == 3
    assert TOO_MANY_FOR_EMAIL in pages[-1]
    assert all(TOO_MANY_FOR_EMAIL not in page for page in pages[:3])
