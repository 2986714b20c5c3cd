"""Password guessing is slowed down per (e-mail, address) and per address, never per e-mail alone:
an anonymous client can never keep the owner out of the panel from another address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from franchise_platform.accounts import login_throttle
from franchise_platform.accounts.login_throttle import login_attempt_begin
from franchise_platform.accounts.models import LoginThrottle

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.66"
OWNER_HOME = "203.0.113.5"
PROXY = "10.0.0.9"


def _login(client, email: str, password: str, **meta):
    return client.post("/panel/login/", {"username": email, "password": password}, **meta)


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by the test instead of sleeping."""
    state = {"now": timezone.now()}
    monkeypatch.setattr(login_throttle, "now", lambda: state["now"])

    def advance(seconds: float) -> None:
        state["now"] += timedelta(seconds=seconds)

    return advance


def test_failures_from_one_address_slow_that_address_down_with_a_russian_page(owner_a, net_a):
    answers = [
        _login(net_a.anonymous(), owner_a.email, f"wrong-{n}", REMOTE_ADDR=ATTACKER)
        for n in range(5)
    ]
    right_from_there = _login(
        net_a.anonymous(), owner_a.email, owner_a.password, REMOTE_ADDR=ATTACKER
    )

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert right_from_there.status_code == 429
    html = right_from_there.content.decode()
    assert "Вход временно заблокирован" in html and "попробуйте снова через 1 мин." in html
    assert right_from_there["Retry-After"] == "60"


def test_failures_from_one_address_never_stop_the_owner_from_another(owner_a, net_a, clock):
    # An attacker who knows the owner's e-mail keeps guessing, as often as the waits allow.
    for _ in range(12):
        _login(net_a.anonymous(), owner_a.email, "wrong", REMOTE_ADDR=ATTACKER)
        clock(3600)

    owner = net_a.anonymous()
    response = _login(owner, owner_a.email, owner_a.password, REMOTE_ADDR=OWNER_HOME)

    assert (response.status_code, response["Location"]) == (302, "/panel/")
    assert owner.get("/panel/").status_code == 200


def test_a_forged_forwarded_address_does_not_lock_the_owner_out(owner_a, net_a, settings):
    """Behind one proxy: the attacker names the owner's address in X-Forwarded-For; nginx appends
    the attacker's real one, and only that one counts."""
    settings.CLIENT_IP_PROXY_HOPS = 1
    forged = {"HTTP_X_FORWARDED_FOR": f"{OWNER_HOME}, {ATTACKER}", "REMOTE_ADDR": PROXY}
    for _ in range(6):
        _login(net_a.anonymous(), owner_a.email, "wrong", **forged)

    attacker = _login(net_a.anonymous(), owner_a.email, owner_a.password, **forged)
    owner = _login(
        net_a.anonymous(),
        owner_a.email,
        owner_a.password,
        HTTP_X_FORWARDED_FOR=OWNER_HOME,
        REMOTE_ADDR=PROXY,
    )

    assert attacker.status_code == 429
    assert owner.status_code == 302
    with tenant_context(net_a.network):
        counted = LoginThrottle.objects.filter(failures__gt=0)
        assert set(counted.values_list("address", flat=True)) == {ATTACKER}


def test_each_further_failure_doubles_the_wait(viewer_a, net_a, clock):
    def attempt(password: str = "wrong") -> int:
        return _login(net_a.anonymous(), viewer_a.email, password, REMOTE_ADDR=ATTACKER).status_code

    for _ in range(5):
        attempt()
    clock(59)
    during_first_wait = attempt(viewer_a.password)
    clock(2)
    sixth_failure = attempt()  # allowed again, wrong again: now two minutes
    clock(119)
    during_second_wait = attempt(viewer_a.password)
    clock(2)
    after_it = attempt(viewer_a.password)

    assert (during_first_wait, sixth_failure, during_second_wait, after_it) == (429, 429, 429, 302)


def test_the_wait_never_grows_past_the_longest(viewer_a, net_a, clock, settings):
    for _ in range(40):
        _login(net_a.anonymous(), viewer_a.email, "wrong", REMOTE_ADDR=ATTACKER)
        clock(settings.LOGIN_DELAY_MAX_SECONDS)
    clock(-1)

    refused = _login(net_a.anonymous(), viewer_a.email, "wrong", REMOTE_ADDR=ATTACKER)

    assert int(refused["Retry-After"]) <= settings.LOGIN_DELAY_MAX_SECONDS


def test_a_right_password_starts_the_count_over(viewer_a, net_a):
    for _ in range(4):
        _login(net_a.anonymous(), viewer_a.email, "wrong", REMOTE_ADDR=ATTACKER)
    _login(net_a.anonymous(), viewer_a.email, viewer_a.password, REMOTE_ADDR=ATTACKER)
    answers = [
        _login(net_a.anonymous(), viewer_a.email, "wrong", REMOTE_ADDR=ATTACKER).status_code
        for _ in range(4)
    ]

    assert answers == [200, 200, 200, 200]


def test_one_address_trying_many_emails_is_slowed_down_for_all_of_them(owner_a, net_a, settings):
    settings.LOGIN_ADDRESS_FREE_FAILURES = 5
    for n in range(5):
        _login(net_a.anonymous(), f"nobody{n}@example.com", "wrong", REMOTE_ADDR=ATTACKER)

    from_that_address = _login(
        net_a.anonymous(), owner_a.email, owner_a.password, REMOTE_ADDR=ATTACKER
    )
    from_elsewhere = _login(
        net_a.anonymous(), owner_a.email, owner_a.password, REMOTE_ADDR=OWNER_HOME
    )

    assert from_that_address.status_code == 429
    assert from_elsewhere.status_code == 302


def test_an_unknown_email_is_answered_exactly_like_a_known_one(owner_a, net_a):
    def statuses(email: str, ip: str) -> list[int]:
        return [
            _login(net_a.anonymous(), email, "wrong", REMOTE_ADDR=ip).status_code for _ in range(6)
        ]

    assert statuses(owner_a.email, "192.0.2.1") == statuses("stranger@example.com", "192.0.2.2")


def test_an_ipv6_client_is_counted_by_its_network(owner_a, net_a):
    """One subscriber holds a whole /64: rotating addresses inside it buys no extra guesses."""
    answers = [
        _login(
            net_a.anonymous(), owner_a.email, "wrong", REMOTE_ADDR=f"2001:db8:1:2::{n:x}"
        ).status_code
        for n in range(1, 6)
    ]

    assert answers[-1] == 429


def test_attempts_in_flight_are_counted_before_their_passwords_are_checked(in_network):
    """A burst of parallel guesses cannot all start before the first failure is written: each
    attempt is counted when it begins, so the sixth concurrent one is already refused."""
    begun = [login_attempt_begin(username="owner@alpha.test", ip=ATTACKER) for _ in range(6)]

    assert [a.allowed for a in begun] == [True] * 5 + [False]
