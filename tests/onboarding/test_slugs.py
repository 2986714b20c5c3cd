"""Addresses: format and reserved words, look-alikes of existing networks and of reserved words,
the live check beside the field, and the API's 409 / 422 as CONTRACT.md says."""

from __future__ import annotations

import pytest

from tenants.models import Network
from tenants.slugs import SlugState, slug_check, slug_skeleton
from tests.personas import platform_client

from .conftest import signup_body

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("chezaquest", "cheza-quest"),
        ("chezaquest", "chezaquesl"),
        ("chezaquest", "chezaque5t"),
        ("chezaquest", "chezaqu3st"),
        ("admin", "adm1n"),
        ("modern", "modem"),
        ("kvest-1", "kvest-l"),
        ("oko", "0k0"),
    ],
)
def test_look_alikes_share_a_skeleton(one, other):
    assert slug_skeleton(one) == slug_skeleton(other)


def test_different_numbers_keep_different_skeletons():
    skeletons = {slug_skeleton(f"fleet-{n}") for n in range(500)}
    assert len(skeletons) == 500


@pytest.mark.parametrize("slug", ["adm1n", "a-dmin", "pub1ic", "stat1c", "wvvw"])
def test_look_alike_of_a_reserved_word_is_reserved(slug):
    result = slug_check(slug)
    assert (result.state, result.code) == (SlugState.INVALID, "reserved_slug")


@pytest.mark.parametrize("slug", ["alpha", "ALPHA "])
def test_exactly_taken_slug_is_taken(net_a, slug):
    result = slug_check(slug)
    assert (result.state, result.code) == (SlugState.TAKEN, "slug_taken")


@pytest.mark.parametrize("slug", ["a1pha", "alp-ha", "aipha"])
def test_look_alike_of_an_existing_network_is_refused_with_its_name(net_a, slug):
    result = slug_check(slug)
    assert (result.state, result.code) == (SlugState.INVALID, "lookalike_slug")
    assert "alpha" in result.reason


def test_a_fresh_slug_is_free():
    assert slug_check("kazan-quests").state == SlugState.FREE


@pytest.mark.parametrize(
    ("slug", "css", "text"),
    [
        ("kazan-quests", "slug-free", "Адрес свободен: kazan-quests.localhost"),
        ("alpha", "slug-taken", "Адрес «alpha» уже занят."),
        ("a1pha", "slug-invalid", "слишком похож на «alpha»"),
        ("ab", "slug-invalid", "от 3 до 40 символов"),
        ("adm1n", "slug-invalid", "зарезервирован"),
    ],
)
def test_live_check_answers_a_small_fragment(net_a, slug, css, text):
    response = platform_client().get("/signup/check-slug/", {"slug": slug})

    assert response.status_code == 200
    html = response.content.decode()
    assert css in html
    assert text in html
    assert "<html" not in html


def test_live_check_of_nothing_says_nothing():
    response = platform_client().get("/signup/check-slug/", {"slug": " "})
    assert response.content.decode().strip() == ""


def _api(**overrides):
    return platform_client().post(
        "/api/v1/signup", signup_body(**overrides), content_type="application/json"
    )


def test_api_answers_409_for_an_exactly_taken_slug(net_a):
    response = _api(slug="alpha")
    assert (response.status_code, response.json()["code"]) == (409, "slug_taken")


@pytest.mark.parametrize(
    ("slug", "code"),
    [("a1pha", "lookalike_slug"), ("alp-ha", "lookalike_slug"), ("adm1n", "reserved_slug")],
)
def test_api_answers_422_for_look_alikes_and_creates_nothing(net_a, slug, code):
    before = Network.objects.count()

    response = _api(slug=slug)

    assert response.status_code == 422
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == code
    assert Network.objects.count() == before
