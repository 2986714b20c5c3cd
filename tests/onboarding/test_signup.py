"""The landing and the sign-up form on the platform host: a newcomer ends in the panel of the new
network (its own host) through a single-use login link; bad input, a taken slug, a bot or a flood
of sign-ups creates nothing; a failure half-way leaves no schema behind."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from franchise_platform.accounts.models import User
from tenants.login_link import login_link_path
from tenants.models import Domain, Network
from tests.personas import platform_client

from .conftest import PASSWORD, signup_body

pytestmark = pytest.mark.django_db

LINK = re.compile(
    r"^http://(?P<host>[a-z0-9-]+\.localhost(?::\d+)?)(?P<path>/panel/login/link/\S+/)$"
)


def test_landing_says_what_the_platform_does_in_three_steps():
    response = platform_client().get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Три шага до первой оплаты" in html
    for step in ("Зарегистрируйте сеть", "Подключите amoCRM", "Отправляйте ссылки"):
        assert step in html
    assert 'href="/signup/"' in html


def test_landing_speaks_english_when_asked():
    client = platform_client()
    client.post("/language/", {"language": "en", "next": "/"})

    html = client.get("/").content.decode()

    assert "Three steps to the first payment" in html
    assert "Три шага" not in html


def test_signup_form_lists_the_fields_and_a_hidden_honeypot():
    html = platform_client().get("/signup/").content.decode()

    for name in ("network_name", "slug", "owner_email", "owner_password", "website"):
        assert f'name="{name}"' in html
    assert 'hx-get="/signup/check-slug/"' in html
    assert 'class="hp"' in html


def test_widget_link_prefills_slug_name_account_and_code():
    html = (
        platform_client()
        .get(
            "/signup/", {"amocrm_account": "27182818", "subdomain": "newquest", "claim": "7K4-9QX"}
        )
        .content.decode()
    )

    assert 'value="newquest"' in html
    assert 'value="Newquest"' in html
    assert 'value="27182818"' in html
    assert 'value="7K4-9QX"' in html
    assert "Вы пришли из виджета amoCRM" in html


def _follow_login_link(response):
    """The sign-up's redirect, opened on the network's host as the browser would."""
    assert response.status_code == 302, response.content.decode()[:500]
    match = LINK.match(response["Location"])
    assert match, response["Location"]
    client = platform_client()
    client.defaults["HTTP_HOST"] = match["host"]
    return client, client.get(match["path"]), match["path"]


def test_signup_creates_the_network_and_logs_the_owner_into_its_panel():
    body = signup_body(slug="kazan-quests")

    response = platform_client().post("/signup/", body)

    network = Network.objects.get(slug="kazan-quests")
    assert schema_exists(network.schema_name)
    assert response["Location"].startswith("http://kazan-quests.localhost/panel/login/link/")
    client, landed, _ = _follow_login_link(response)
    assert landed.status_code == 302 and landed["Location"] == "/panel/"
    home = client.get("/panel/")
    assert home.status_code == 200
    html = home.content.decode()
    assert "Первые шаги" in html
    assert 'id="onboarding-count"' in html and "0 из 6" in html
    with tenant_context(network):
        owner = User.objects.get()
        assert owner.email == body["owner_email"] and owner.is_owner


def test_login_link_keeps_the_port_the_person_used():
    response = platform_client().post(
        "/signup/", signup_body(), SERVER_PORT="8123", HTTP_HOST="localhost:8123"
    )
    assert re.match(r"^http://n[0-9a-f]+\.localhost:8123/panel/login/link/", response["Location"])


def test_behind_a_proxy_the_app_servers_own_port_is_not_used():
    response = platform_client().post("/signup/", signup_body(), SERVER_PORT="8000")
    assert re.match(r"^http://n[0-9a-f]+\.localhost/panel/login/link/", response["Location"])


def test_login_link_works_once():
    client, first, path = _follow_login_link(platform_client().post("/signup/", signup_body()))
    assert first.status_code == 302

    other = platform_client()
    other.defaults["HTTP_HOST"] = client.defaults["HTTP_HOST"]
    second = other.get(path)

    assert second.status_code == 400
    assert "Ссылка для входа устарела" in second.content.decode()
    assert other.get("/panel/").status_code == 302  # still anonymous


def test_login_link_expires_after_two_minutes():
    platform_client().post("/signup/", signup_body(slug="late-owner"))
    network = Network.objects.get(slug="late-owner")
    with tenant_context(network):
        path = login_link_path(network=network, user=User.objects.get())
    client = platform_client()
    client.defaults["HTTP_HOST"] = "late-owner.localhost"

    with mock.patch("django.core.signing.time.time", return_value=__import__("time").time() + 121):
        response = client.get(path)

    assert response.status_code == 400


def test_login_link_of_one_network_opens_nothing_in_another(net_a):
    platform_client().post("/signup/", signup_body(slug="first-net"))
    network = Network.objects.get(slug="first-net")
    with tenant_context(network):
        path = login_link_path(network=network, user=User.objects.get())
    client = net_a.anonymous()

    assert client.get(path).status_code == 400
    assert client.get("/panel/").status_code == 302


def test_bad_input_is_shown_beside_each_field_and_creates_nothing():
    before = Network.objects.count()

    response = platform_client().post(
        "/signup/",
        {
            "network_name": " ",
            "slug": "-x",
            "owner_email": "not-an-email",
            "owner_password": "12345",
        },
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="field-network_name"' in html and "Укажите название сети" in html
    assert "от 3 до 40 символов" in html
    assert "Проверьте e-mail владельца" in html
    assert "Пароль слишком простой" in html
    assert "12345" not in html  # the password is never echoed back
    assert Network.objects.count() == before


def test_taken_and_look_alike_slugs_are_refused_beside_the_field(net_a):
    before = Network.objects.count()

    taken = platform_client().post("/signup/", signup_body(slug="alpha"))
    similar = platform_client().post("/signup/", signup_body(slug="a1pha"))

    assert taken.status_code == 422 and "Адрес «alpha» уже занят." in taken.content.decode()
    assert similar.status_code == 422 and "слишком похож на «alpha»" in similar.content.decode()
    assert Network.objects.count() == before


def test_filled_honeypot_pretends_success_and_creates_nothing():
    before = Network.objects.count()

    response = platform_client().post("/signup/", signup_body(website="http://spam.example"))

    assert response.status_code == 200
    assert "Заявка принята" in response.content.decode()
    assert Network.objects.count() == before


def test_sixth_signup_in_an_hour_from_one_address_is_refused(rate_limit):
    client = platform_client()
    for _ in range(rate_limit):
        assert client.post("/signup/", signup_body()).status_code == 302
    before = Network.objects.count()

    response = client.post("/signup/", signup_body())

    assert response.status_code == 429
    assert "Слишком много регистраций" in response.content.decode()
    assert Network.objects.count() == before


def test_typos_do_not_spend_the_budget(rate_limit):
    client = platform_client()
    for _ in range(rate_limit + 3):
        assert client.post("/signup/", signup_body(owner_password="1")).status_code == 422
    assert client.post("/signup/", signup_body()).status_code == 302


def test_the_api_shares_the_budget_and_answers_429_in_the_error_shape(rate_limit):
    client = platform_client()
    for _ in range(rate_limit):
        assert client.post("/signup/", signup_body()).status_code == 302

    response = client.post("/api/v1/signup", signup_body(), content_type="application/json")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert set(response.json()) == {"detail", "code"}


def test_another_address_has_its_own_budget(rate_limit):
    for _ in range(rate_limit):
        platform_client().post("/signup/", signup_body(), REMOTE_ADDR="10.0.0.1")
    assert (
        platform_client().post("/signup/", signup_body(), REMOTE_ADDR="10.0.0.2").status_code == 302
    )


def test_behind_a_proxy_the_forwarded_address_is_counted(rate_limit, settings):
    settings.CLIENT_IP_PROXY_HOPS = 1
    for _ in range(rate_limit):
        platform_client().post(
            "/signup/", signup_body(), HTTP_X_FORWARDED_FOR="203.0.113.7", REMOTE_ADDR="10.0.0.9"
        )
    # Same proxy, another client: allowed; the first client, lying about a hop: still refused.
    other = platform_client().post(
        "/signup/", signup_body(), HTTP_X_FORWARDED_FOR="203.0.113.8", REMOTE_ADDR="10.0.0.9"
    )
    forged = platform_client().post(
        "/signup/",
        signup_body(),
        HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
        REMOTE_ADDR="10.0.0.9",
    )
    assert other.status_code == 302
    assert forged.status_code == 429


def test_a_failure_after_the_schema_exists_leaves_nothing_behind():
    """The schema is created first, then the data key, the owner and the token: break the last
    step and everything before it must be gone too."""
    slug = "half-made"
    created_schema = {}

    def boom(**kwargs):
        created_schema["existed"] = schema_exists("half_made")
        raise RuntimeError("token storage failed")

    with (
        mock.patch("tenants.services.api_token_create", side_effect=boom),
        pytest.raises(RuntimeError),
    ):
        platform_client().post("/signup/", signup_body(slug=slug))

    connection.set_schema_to_public()
    assert created_schema["existed"] is True
    assert not schema_exists("half_made")
    assert not Network.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain__startswith=f"{slug}.").exists()


def test_owner_password_reset_works_on_the_new_network_host(mailoutbox):
    body = signup_body(slug="forgetful")
    platform_client().post("/signup/", body)
    client = platform_client()
    client.defaults["HTTP_HOST"] = "forgetful.localhost"
    mailoutbox.clear()

    client.post("/panel/password-reset/", {"email": body["owner_email"]})

    assert len(mailoutbox) == 1
    link = re.search(r"http://forgetful\.localhost/panel/password-reset/\S+/", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    form = client.get(link.group(0).removeprefix("http://forgetful.localhost"), follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Brand-New-Secret-42", "new_password2": "Brand-New-Secret-42"},
    )
    assert done.status_code == 302
    network = Network.objects.get(slug="forgetful")
    with tenant_context(network):
        assert User.objects.get().check_password("Brand-New-Secret-42")
        assert not User.objects.get().check_password(PASSWORD)
