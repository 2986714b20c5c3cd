"""The test suite: real PostgreSQL and Redis, fast hashing, nothing leaves the machine."""

import os

from .base import *  # noqa: F403
from .base import REDIS_URL, ROBOKASSA_API_BASE_URL
from .env import env_bool, env_str

DEBUG = False
# Sources served as they are (nothing is collected before a test run).
STORAGES = PLAIN_STATIC_STORAGES  # noqa: F405
# The test suite's own key (never used outside it) unless the environment gives one.
SECRET_KEY = env_str("SECRET_KEY", "test-only-secret-key-never-used-outside-the-test-suite-0123")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A Redis database of its own per test run (2–11; development uses 0, benchmarks 12), so a run that
# flushes it (the "Redis lost" tests do) never touches another run's queue or rate-limit windows.
REDIS_URL = env_str("TEST_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + f"/{2 + os.getpid() % 10}")
# (tests/foundation/test_broker_rabbitmq.py starts a worker with TEST_CELERY_BROKER_URL=amqp://…)
CELERY_BROKER_URL = env_str("TEST_CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = REDIS_URL
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGIN_FREE_FAILURES = 5
# Suites sign up many networks from 127.0.0.1; tests/onboarding turns the limit on where it tests it.
SIGNUP_RATE_LIMIT = 0
# Likewise the e-mail and address-check budgets: the tests of those limits turn them on.
EMAIL_REQUESTS_PER_ADDRESS_PER_HOUR = 0
EMAILS_PER_RECIPIENT_PER_HOUR = 0
SLUG_CHECKS_PER_ADDRESS_PER_MINUTE = 0
# Unit tests have no Robokassa to ask about a shop's numbers (the tests of that check turn it on);
# the end-to-end stack points ROBOKASSA_API_BASE_URL at the fake Robokassa, which is asked.
INVOICE_NUMBER_CHECK = env_bool("INVOICE_NUMBER_CHECK", bool(ROBOKASSA_API_BASE_URL))

# A fixed, test-only master key (never used outside the test suite) unless the environment gives one;
# the Celery worker that tests start inherits the same environment.
if not PLATFORM_ENCRYPTION_KEYS:  # type: ignore[used-before-def]  # noqa: F405 - from base
    PLATFORM_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE="]

# One test database per test process, so two runs on one machine (a developer and CI, or parallel
# helpers) never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
