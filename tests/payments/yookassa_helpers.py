"""A partner with a YooKassa shop at the strict fake, and the core's options pointing at it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from franchise_platform.network.models import ProviderAccount
from tests.factories import LocationFactory, ProviderAccountFactory
from tests.fakes.yookassa import FakeYooKassa

SECRET_KEY = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE"


def yookassa_options(
    settings: Any,
    fake: FakeYooKassa,
    *,
    transport: httpx.BaseTransport | None = None,
    **extra: Any,
) -> None:
    """Point BILLING_PROVIDER_OPTIONS["yookassa"] at ``fake`` (in process, or its live server
    when it was started)."""
    options = dict(settings.BILLING_PROVIDER_OPTIONS)
    yookassa: dict[str, Any] = {
        "api_base_url": fake.api_base_url,
        "oauth_base_url": fake.oauth_base_url,
        "notification_networks": ("127.0.0.1/32",),
        "sleep": lambda _seconds: None,
        "idempotence_namespace": "fptest",
    }
    if transport is not None or fake._server is None:
        yookassa["http_client"] = httpx.Client(transport=transport or fake.transport())
    yookassa.update(extra)
    options["yookassa"] = yookassa
    settings.BILLING_PROVIDER_OPTIONS = options


def yookassa_shop(
    fake: FakeYooKassa, *, shop_id: str = "100500", fiscalization: bool = False, **kwargs: Any
) -> ProviderAccount:
    """A partner whose shop is ``shop_id`` at the fake (entered with a secret key), one location."""
    fake.register_shop(shop_id, SECRET_KEY, test=False, fiscalization=fiscalization)
    account = ProviderAccountFactory(
        provider="yookassa",
        merchant_login=shop_id,
        password1=None,
        password2=None,
        test_password1=None,
        test_password2=None,
        provider_secrets={"secret_key": SECRET_KEY},
        fiscalization=fiscalization,
        **kwargs,
    )
    LocationFactory(partner=account.partner)
    return account


class GatedTransport(httpx.BaseTransport):
    """The fake's transport, holding the first request that ``hold`` picks until ``release``."""

    def __init__(self, fake: FakeYooKassa, hold: Callable[[httpx.Request], bool]) -> None:
        import threading

        self.inner = fake.transport()
        self.hold = hold
        self.entered = threading.Event()
        self.release = threading.Event()
        self._held = False
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            held = not self._held and self.hold(request)
            self._held = self._held or held
        if held:
            self.entered.set()
            assert self.release.wait(timeout=30), "never released"
        return self.inner.handle_request(request)
