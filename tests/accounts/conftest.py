"""The e-mail budgets switched on (the test settings turn them off), with their counters dropped
before and after each test that uses them."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings


def forget_budgets() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    for pattern in ("*mail-rate:*", "*slug-check:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture
def mail_budgets(settings):
    settings.EMAIL_REQUESTS_PER_ADDRESS_PER_HOUR = 10
    settings.EMAILS_PER_RECIPIENT_PER_HOUR = 3
    forget_budgets()
    yield
    forget_budgets()
