"""The owner's address is verified by a link mailed at sign-up; the panel reminds until it is."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import User
from franchise_platform.accounts.verification import email_verification_token
from tenants.models import Network
from tests.personas import platform_client

from .conftest import signup_body

pytestmark = pytest.mark.django_db


def _signed_up(mailoutbox, slug="mailed"):
    body = signup_body(slug=slug)
    response = platform_client().post("/signup/", body)
    client = platform_client()
    client.defaults["HTTP_HOST"] = f"{slug}.localhost"
    client.get(response["Location"].removeprefix(f"http://{slug}.localhost"))
    return body, client, Network.objects.get(slug=slug)


def _owner(network) -> User:
    with tenant_context(network):
        return User.objects.get()


def test_signup_mails_a_verification_link_to_the_network_host(mailoutbox):
    body, _, network = _signed_up(mailoutbox)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [body["owner_email"]]
    assert "ЧеЗаКвест?!" in mail.subject
    assert re.search(r"http://mailed\.localhost/panel/verify-email/\S+/", mail.body)
    assert _owner(network).email_verified_at is None


def test_the_link_verifies_and_the_banner_goes_away(mailoutbox):
    _, client, network = _signed_up(mailoutbox)
    assert 'id="verify-email-banner"' in client.get("/panel/").content.decode()
    link = re.search(r"http://mailed\.localhost(/panel/verify-email/\S+/)", mailoutbox[0].body)

    page = client.get(link.group(1))

    assert page.status_code == 200
    assert "E-mail подтверждён" in page.content.decode()
    assert _owner(network).email_verified_at is not None
    assert 'id="verify-email-banner"' not in client.get("/panel/").content.decode()


def test_verification_works_without_a_session_and_twice(mailoutbox):
    _, _, network = _signed_up(mailoutbox)
    path = re.search(r"http://mailed\.localhost(/panel/verify-email/\S+/)", mailoutbox[0].body)[1]
    stranger = platform_client()
    stranger.defaults["HTTP_HOST"] = "mailed.localhost"

    assert stranger.get(path).status_code == 200
    first = _owner(network).email_verified_at
    assert stranger.get(path).status_code == 200
    assert _owner(network).email_verified_at == first


def test_a_link_for_an_old_address_proves_nothing(mailoutbox):
    _, client, network = _signed_up(mailoutbox)
    with tenant_context(network):
        owner = User.objects.get()
        old_token = email_verification_token(user=owner)
        owner.email = "new-address@example.com"
        owner.save()

    response = client.get(f"/panel/verify-email/{old_token}/")

    assert response.status_code == 400
    assert _owner(network).email_verified_at is None


def test_a_forged_or_foreign_link_is_refused(mailoutbox, net_a):
    _signed_up(mailoutbox)
    path = re.search(r"http://mailed\.localhost(/panel/verify-email/\S+/)", mailoutbox[0].body)[1]

    assert net_a.anonymous().get(path).status_code == 400  # another network: nobody there
    assert net_a.anonymous().get("/panel/verify-email/forged/").status_code == 400


def test_the_banner_offers_to_send_the_link_again(mailoutbox):
    _, client, _ = _signed_up(mailoutbox)
    mailoutbox.clear()

    response = client.post("/panel/verify-email/resend/", follow=True)

    assert len(mailoutbox) == 1
    assert "Письмо со ссылкой отправлено" in response.content.decode()


def test_a_mail_outage_does_not_undo_the_signup(mailoutbox):
    with mock.patch(
        "franchise_platform.accounts.verification.send_mail", side_effect=OSError("smtp down")
    ):
        response = platform_client().post("/signup/", signup_body(slug="no-mail"))

    assert response.status_code == 302
    assert Network.objects.filter(slug="no-mail").exists()


def test_the_api_signup_mails_the_link_too(mailoutbox):
    response = platform_client().post(
        "/api/v1/signup", signup_body(slug="api-made"), content_type="application/json"
    )

    assert response.status_code == 201
    assert re.search(r"http://api-made\.localhost:8000/panel/verify-email/\S+/", mailoutbox[0].body)
