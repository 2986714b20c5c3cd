"""The test suite: real PostgreSQL and Redis, fast hashing, nothing leaves the machine."""

import os

from .base import *  # noqa: F403
from .base import REDIS_URL
from .env import env_str

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A separate Redis database so a test run never eats the development queue.
REDIS_URL = env_str("TEST_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/13")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
AXES_FAILURE_LIMIT = 5

# A fixed, test-only master key (never used outside the test suite) unless the environment gives one;
# the Celery worker that tests start inherits the same environment.
if not PLATFORM_ENCRYPTION_KEYS:  # noqa: F405
    PLATFORM_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE="]

# One test database per test process, so two runs on one machine (a developer and CI, or parallel
# helpers) never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
