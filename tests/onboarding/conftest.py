"""Helpers for the onboarding tests: a sign-up form's body, the rate limit switched on, and an
amoCRM account installed from the marketplace that waits, unbound, with sealed tokens."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings

from franchise_platform.crm_sync.installs import pending_install_exchange
from tenants.models import CrmAccountBinding, PendingInstall
from tests.personas import platform_client

PASSWORD = "Kazan-Quest-2026!"

WIDGET_AUD = "http://localhost:8000"


def signup_body(**overrides: str) -> dict[str, str]:
    slug = overrides.pop("slug", f"n{uuid.uuid4().hex[:10]}")
    return {
        "network_name": "ЧеЗаКвест?!",
        "slug": slug,
        "owner_email": f"owner@{slug}.test",
        "owner_password": PASSWORD,
        **overrides,
    }


def _forget_counters() -> None:
    """Drop every sign-up and claim-attempt counter of the test Redis (they live an hour)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("*signup-rate:*", "*claim-attempts:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_counters():
    _forget_counters()
    yield
    _forget_counters()


@pytest.fixture
def rate_limit(settings):
    """Five creations per address per hour (the test settings turn the limit off)."""
    settings.SIGNUP_RATE_LIMIT = 5
    return 5


@pytest.fixture
def amo(amo_server, settings):
    settings.AMOCRM_API_BASE_URL = amo_server.base_url
    amo_server.clear_failures()
    yield amo_server
    amo_server.clear_failures()


@pytest.fixture
def unbound_account(amo) -> int:
    """An account installed from the marketplace (the `from_widget` call, no state): its tokens
    were exchanged and wait, sealed, in an unbound binding."""
    account_id = amo.add_account()
    subdomain = amo.accounts[account_id].subdomain
    response = platform_client().get(
        "/integrations/amocrm/oauth/callback/",
        {
            "code": amo.authorize(account_id),
            "referer": f"{subdomain}.amocrm.ru",
            "from_widget": "1",
        },
    )
    assert response.status_code == 200
    pending = PendingInstall.objects.get()
    binding = pending_install_exchange(pending_id=str(pending.pk))
    assert binding is not None and binding.state == CrmAccountBinding.State.UNBOUND
    return account_id


def claim_code_request(amo, account_id: int, *, is_admin: bool | None = True):
    extra = {} if is_admin is None else {"is_admin": is_admin}
    token = amo.make_widget_token(account_id, aud=WIDGET_AUD, extra=extra)
    return platform_client().post(
        "/api/widget/v1/claim-code", content_type="application/json", HTTP_X_AUTH_TOKEN=token
    )


# ---- browser tests: the panel suite's live server and Chromium, screenshots of our own ---------

from pathlib import Path  # noqa: E402

from tests.panel.conftest import (  # noqa: E402, F401
    DESKTOP,
    PHONE,
    chromium,
    csp_clean,
    live_server_port,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "onboarding"


@pytest.fixture
def shoot():
    """A full-page screenshot at desktop width and one at phone width (390 px)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return take
