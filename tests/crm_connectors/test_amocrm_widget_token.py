"""The widget's disposable token: HS256 only, audience, times, claims, single use."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
import redis

from crm_connectors.amocrm.widget_token import (
    WidgetTokenError,
    allowed_audiences,
    verify_widget_token,
)
from tests.fakes.amocrm import FakeAmoCrm

BASE_URL = "http://localhost:8000"


@pytest.fixture
def jti_guard(redis_client: redis.Redis[bytes], redis_prefix: str) -> Callable[[str, int], bool]:
    def guard(jti: str, ttl: int) -> bool:
        return bool(redis_client.set(f"{redis_prefix}:jti:{jti}", 1, nx=True, ex=ttl))

    return guard


@pytest.fixture
def verify(fake: FakeAmoCrm, jti_guard: Callable[[str, int], bool]) -> Callable[..., object]:
    def run(token: str, **kwargs: object) -> object:
        options: dict[str, object] = {
            "secret": fake.client_secret,
            "audiences": allowed_audiences(BASE_URL),
            "jti_guard": jti_guard,
            "client_id": fake.client_id,
        }
        options.update(kwargs)
        return verify_widget_token(token, **options)  # type: ignore[arg-type]

    return run


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(WidgetTokenError) as caught:
        call()
    return caught.value.code


def test_allowed_audiences_with_and_without_port() -> None:
    assert allowed_audiences("http://localhost:8000") == [
        "http://localhost:8000",
        "http://localhost",
    ]
    assert allowed_audiences("https://Platform.example/") == ["https://platform.example"]


def test_a_good_token_gives_its_claims(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    token = fake.make_widget_token(account_id, aud="http://localhost:8000", user_id=87654321)

    claims = verify(token)

    assert claims.account_id == account_id  # type: ignore[attr-defined]
    assert claims.user_id == 87654321  # type: ignore[attr-defined]
    assert claims.subdomain == "chezaquest"  # type: ignore[attr-defined]
    assert claims.client_uuid == fake.client_id  # type: ignore[attr-defined]


def test_the_origin_without_port_is_accepted(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    token = fake.make_widget_token(account_id, aud="http://localhost")

    assert verify(token).account_id == account_id  # type: ignore[attr-defined]


def test_a_reused_jti_is_refused(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    token = fake.make_widget_token(account_id, aud=BASE_URL)
    verify(token)

    assert code_of(lambda: verify(token)) == "replayed"


@pytest.mark.parametrize(
    ("tweak", "code"),
    [
        ({"secret": "another-secret-of-a-sufficient-length-0123456789"}, "bad_signature"),
        ({"aud": "https://evil.example"}, "wrong_audience"),
        ({"aud": "http://localhost:9000"}, "wrong_audience"),
        ({"iat": lambda: int(time.time()) - 3600}, "expired"),
        ({"nbf": lambda: int(time.time()) + 600}, "not_yet_valid"),
        ({"iat": lambda: int(time.time()) + 600}, "not_yet_valid"),
        ({"algorithm": "none"}, "bad_algorithm"),
        ({"algorithm": "HS512"}, "bad_algorithm"),
        ({"omit": ["jti"]}, "missing_claim"),
        ({"omit": ["account_id"]}, "missing_claim"),
        ({"omit": ["aud"]}, "missing_claim"),
        ({"client_uuid": "another-integration"}, "wrong_client"),
        ({"ttl": 1801}, "too_long_lived"),
        ({"ttl": 30 * 24 * 3600}, "too_long_lived"),
        ({"ttl": 0}, "bad_claim"),
        ({"extra": {"account_id": "12345"}}, "bad_claim"),
        ({"extra": {"iss": "https://evil.example"}}, "bad_issuer"),
        ({"extra": {"iss": "https://other.amocrm.ru"}}, "bad_issuer"),
    ],
)
def test_bad_tokens_are_refused(
    fake: FakeAmoCrm,
    account_id: int,
    verify: Callable[..., object],
    tweak: dict[str, object],
    code: str,
) -> None:
    # Times are taken when the test runs, not when it is collected (a whole suite may lie between).
    resolved = {key: value() if callable(value) else value for key, value in tweak.items()}
    options: dict[str, object] = {"aud": BASE_URL, **resolved}
    token = fake.make_widget_token(account_id, **options)  # type: ignore[arg-type]

    assert code_of(lambda: verify(token)) == code


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 10_000])
def test_malformed_tokens_are_refused(token: str, verify: Callable[..., object]) -> None:
    assert code_of(lambda: verify(token)) == "malformed"


def test_a_refused_token_does_not_burn_its_jti(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    token = fake.make_widget_token(account_id, aud=BASE_URL, jti="fixed-jti")
    assert code_of(lambda: verify(token, client_id="someone-else")) == "wrong_client"

    assert verify(token).jti == "fixed-jti"  # type: ignore[attr-defined]


def test_leeway_and_an_injected_clock(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    token = fake.make_widget_token(account_id, aud=BASE_URL, iat=1_000_000, ttl=1800)

    assert verify(token, now=1_000_000 + 1800 + 4).exp == 1_001_800  # type: ignore[attr-defined]
    other = fake.make_widget_token(account_id, aud=BASE_URL, iat=1_000_000, ttl=1800)
    assert code_of(lambda: verify(other, now=1_000_000 + 1800 + 5)) == "expired"


def test_the_guard_ttl_covers_the_token_lifetime(fake: FakeAmoCrm, account_id: int) -> None:
    seen: list[tuple[str, int]] = []
    token = fake.make_widget_token(account_id, aud=BASE_URL, iat=2_000_000, ttl=1800)

    def guard(jti: str, ttl: int) -> bool:
        seen.append((jti, ttl))
        return True

    verify_widget_token(
        token,
        secret=fake.client_secret,
        audiences=[BASE_URL],
        jti_guard=guard,
        now=2_000_000 + 100,
    )

    assert 1700 <= seen[0][1] <= 1800 + 10


def test_a_token_signed_with_a_public_key_algorithm_is_refused(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    good = fake.make_widget_token(account_id, aud=BASE_URL)
    _header, payload, signature = good.split(".")
    forged_header = jwt.utils.base64url_encode(b'{"alg":"RS256","typ":"JWT"}').decode()

    assert code_of(lambda: verify(f"{forged_header}.{payload}.{signature}")) == "bad_algorithm"


def test_a_token_of_amocrms_lifetime_passes_and_the_bound_is_configurable(
    fake: FakeAmoCrm, account_id: int, verify: Callable[..., object]
) -> None:
    assert verify(fake.make_widget_token(account_id, aud=BASE_URL, ttl=1800))
    short = fake.make_widget_token(account_id, aud=BASE_URL, ttl=900)
    assert code_of(lambda: verify(short, max_lifetime=600)) == "too_long_lived"
