"""Settings shared by every environment. Values come from the environment (CONTRACT.md)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PACKAGE_DIR.parent.parent

# No default here: dev.py generates one into .local/, test.py has its own, prod.py requires it, and
# Django refuses an empty key anywhere else.
SECRET_KEY = env_str("SECRET_KEY")
DEBUG = False

# --- Hosts -------------------------------------------------------------------------------------
PLATFORM_DOMAIN = env_str("PLATFORM_DOMAIN", "localhost").lower()
PLATFORM_BASE_URL = env_str("PLATFORM_BASE_URL", "http://localhost:8000").rstrip("/")
_base = urlsplit(PLATFORM_BASE_URL)
PLATFORM_SCHEME = _base.scheme or "http"
PLATFORM_PORT = _base.port
# Extra hosts that also serve the platform (public schema), e.g. 127.0.0.1 for probes.
PLATFORM_EXTRA_PUBLIC_HOSTS = env_list("PLATFORM_EXTRA_PUBLIC_HOSTS", "127.0.0.1")
ALLOWED_HOSTS = [PLATFORM_DOMAIN, f".{PLATFORM_DOMAIN}", *PLATFORM_EXTRA_PUBLIC_HOSTS]

# --- Applications (django-tenants: shared in public, tenant in each network schema) ------------
SHARED_APPS = [
    # "tenants" first: its migrate_schemas (which also keeps the template schema current) must win.
    "tenants",
    "django_tenants",
    "franchise_platform.accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "ninja",
    "frontend",
    # Data keys of the public schema (pending marketplace installs) and the operators' audit log.
    "franchise_platform.security",
    # /metrics, task metrics, log context in Celery, optional Sentry (no models).
    "franchise_platform.observability",
    # The operators' console on the platform host (no models).
    "franchise_platform.operator",
    # django-csp: its system checks (the policy itself is CONTENT_SECURITY_POLICY below).
    "csp",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "franchise_platform.accounts",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "franchise_platform.security",
    "franchise_platform.network",
    "franchise_platform.payments",
    "franchise_platform.crm_sync",
    "franchise_platform.royalties",
    # The dashboard's daily rollup and the panel's background exports.
    "franchise_platform.reporting",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Network"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New networks are cloned from this schema; `migrate_schemas` keeps it current (tenants app).
TENANT_BASE_SCHEMA = env_str("TENANT_BASE_SCHEMA", "network_template")
TENANT_CREATION_FAKES_MIGRATIONS = True
# Replay a pg_dump snapshot of the template instead of the catalog clone (tenants/template.py).
TENANT_SNAPSHOT_CREATION = True
PUBLIC_SCHEMA_URLCONF = "franchise_platform.urls_public"
ROOT_URLCONF = "franchise_platform.urls_tenant"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# Set search_path once per schema switch, not before every query: it halved the statements of a
# callback (12 → 6) and of applying a payment (46 → 23). Safe here because this django-tenants
# forgets the cached path on close, rollback and savepoint rollback, every schema switch goes through
# set_tenant/set_schema, and connections are pooled (if at all) in PgBouncer's session mode, where a
# client keeps its server connection (tests/deploy/test_pgbouncer.py, tests/network/test_isolation.py).
TENANT_LIMIT_SET_CALLS = True

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "franchise_platform.observability.middleware.ServerTimingMiddleware",
    # Second: every answer gets the policy, also those of the middleware below that answer early.
    "csp.middleware.CSPMiddleware",
    "franchise_platform.health.HealthCheckMiddleware",
    # /metrics on platform hosts, before routing like /healthz: Prometheus scrapes each pod by IP.
    "franchise_platform.observability.middleware.MetricsMiddleware",
    "tenants.middleware.NetworkHostMiddleware",
    "franchise_platform.crm_sync.cors.WidgetCorsMiddleware",
    "franchise_platform.request_context.RequestContextMiddleware",
    # A NUL character anywhere in the input is refused before sessions or views read it.
    "franchise_platform.input_guard.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# Password guessing is slowed down by accounts/login_throttle.py, in the login form itself.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [REPO_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "franchise_platform.panel.context.network_crm",
            ],
        },
    },
]

WSGI_APPLICATION = "franchise_platform.wsgi.application"

# --- Database ----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/franchise")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and the cache (tenant-aware keys) -----------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "KEY_PREFIX": "fp",
    }
}

# --- Celery (see specs/reliability.md section 3) -----------------------------------------------
# Redis by default; amqp://… selects RabbitMQ with quorum queues (celery.py, deploy/SCALING.md).
# Results and the cache stay on Redis.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
# Celery's Django fixup closes every database connection before and after each task unless this
# is set: a new PostgreSQL connection (two of them) per task, most of a payment's apply time. With
# it, the fixup recycles connections every this many tasks, and celery.py drops broken or aged
# ones around each task as Django does around a request (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 500)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Results are kept only for the few tasks that ask (diagnostics); the database holds real outcomes.
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Longer than any countdown we use (the longest is the outbox's 15-minute backoff cap), so an
# unacked message is never redelivered while it legitimately waits. Redis only: on RabbitMQ
# celery.py replaces these options (publisher confirms; no visibility timeout there).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULE = {
    "sweep-networks": {
        "task": "franchise_platform.sweep_all_networks",
        "schedule": 60.0,
    },
    "reconcile-invoices": {
        "task": "franchise_platform.reconcile_all_networks",
        "schedule": crontab(minute="*/10"),
    },
    "amocrm-pending-installs": {
        "task": "crm_sync.pending_installs_sweep",
        "schedule": crontab(minute="*/5"),
    },
    # Events a CRM kept while we were unreachable (Bitrix24's offline queue, never re-sent
    # otherwise): drained per bound network; also queued on every (re)connect.
    "crm-events-catch-up": {
        "task": "crm_sync.events_catch_up_all",
        "schedule": crontab(minute="*/5"),
    },
    # Daily at 03:15 UTC (06:15 in Moscow, the month already closed there), not only on the 1st:
    # a lost run is made up the next day; drafting is idempotent and an approved statement is
    # frozen (royalties/services.py). Beat's crontabs are in UTC (no CELERY_TIMEZONE).
    "royalties-draft": {
        "task": "royalties.draft_all_networks",
        "schedule": crontab(hour=3, minute=15),
    },
    # The dashboard's rollup of closed days (reporting/rollup.py): new days and the days of deals
    # saved since the last run; cheap when nothing changed. And background exports past 24 h.
    "reporting-rollup": {
        "task": "reporting.rollup_all_networks",
        "schedule": 60.0,
    },
    "reporting-exports-cleanup": {
        "task": "reporting.exports_cleanup_all_networks",
        "schedule": crontab(minute=40),
    },
    # Hourly on Monday mornings (UTC): each person gets one summary per week (recorded on the
    # preference), so the later runs only make up for a lost one.
    "weekly-summaries": {
        "task": "royalties.summaries_all_networks",
        "schedule": crontab(day_of_week=1, hour="7-12", minute=5),
    },
}

# --- Secrets at rest ---------------------------------------------------------------------------
PLATFORM_ENCRYPTION_KEYS = env_list("PLATFORM_ENCRYPTION_KEYS")

# --- Vendors -----------------------------------------------------------------------------------
AMOCRM_CLIENT_ID = env_str("AMOCRM_CLIENT_ID", "dev-amocrm-client-id")
# Development and tests only (prod requires the real one; dev replaces it, see settings/dev.py).
AMOCRM_CLIENT_SECRET_PLACEHOLDER = (
    "dev-amocrm-client-secret-placeholder-not-for-production-use-0123"
)
AMOCRM_CLIENT_SECRET = env_str("AMOCRM_CLIENT_SECRET", AMOCRM_CLIENT_SECRET_PLACEHOLDER)
AMOCRM_API_BASE_URL = env_str("AMOCRM_API_BASE_URL", "")
AMOCRM_RATE_LIMIT_PER_SECOND = env_int("AMOCRM_RATE_LIMIT_PER_SECOND", 7)
# Background writes (the outbox) stay below this, leaving the rest for managers' button presses.
AMOCRM_BACKGROUND_RATE_PER_SECOND = env_int("AMOCRM_BACKGROUND_RATE_PER_SECOND", 4)
# Origins besides amoCRM's own (https://<account>.amocrm.ru|.com, kommo.com) allowed to call the
# widget API, e.g. a staging host of the widget.
WIDGET_EXTRA_ORIGINS = env_list("WIDGET_EXTRA_ORIGINS")
AMOCRM_RATE_LIMIT_MARGIN = float(env_str("AMOCRM_RATE_LIMIT_MARGIN", "0.25"))
# The widget's disposable token: amoCRM issues them for 30 minutes (exp - iat = 1800); a token
# that claims to live longer is refused (crm_connectors/amocrm/widget_token.py).
AMOCRM_WIDGET_TOKEN_MAX_LIFETIME = env_int("AMOCRM_WIDGET_TOKEN_MAX_LIFETIME", 1800)
# State-less (marketplace) installs, crm_sync/installs.py: accepted calls per hour per client
# address (amoCRM calls from a few servers of its own) and per account host; a ceiling of rows
# waiting for their exchange; days an install may wait unclaimed before its tokens are dropped.
AMOCRM_INSTALLS_PER_ADDRESS_PER_HOUR = env_int("AMOCRM_INSTALLS_PER_ADDRESS_PER_HOUR", 120)
AMOCRM_INSTALLS_PER_ACCOUNT_PER_HOUR = env_int("AMOCRM_INSTALLS_PER_ACCOUNT_PER_HOUR", 5)
AMOCRM_PENDING_INSTALLS_MAX = env_int("AMOCRM_PENDING_INSTALLS_MAX", 500)
AMOCRM_UNCLAIMED_INSTALL_DAYS = env_int("AMOCRM_UNCLAIMED_INSTALL_DAYS", 30)
# Bitrix24 (crm_connectors/bitrix24, shared/specs/bitrix24.md): the marketplace app's keys (empty:
# Bitrix24 installs are refused), the test/development override of every portal's and the OAuth
# server's address, and the portal's budget (§3.6: 2 requests a second, a burst of 50, per portal).
BITRIX24_CLIENT_ID = env_str("BITRIX24_CLIENT_ID", "")
BITRIX24_CLIENT_SECRET = env_str("BITRIX24_CLIENT_SECRET", "")
BITRIX24_API_BASE_URL = env_str("BITRIX24_API_BASE_URL", "")
BITRIX24_RATE_LIMIT_PER_SECOND = env_int("BITRIX24_RATE_LIMIT_PER_SECOND", 2)
BITRIX24_BACKGROUND_RATE_PER_SECOND = env_int("BITRIX24_BACKGROUND_RATE_PER_SECOND", 1)
BITRIX24_RATE_LIMIT_MARGIN = float(env_str("BITRIX24_RATE_LIMIT_MARGIN", "0.25"))
BITRIX24_WIDGET_TOKEN_MAX_LIFETIME = env_int("BITRIX24_WIDGET_TOKEN_MAX_LIFETIME", 900)
# Install POSTs accepted per hour per client address and per (portal, address): each costs a call
# to the OAuth server with our client secret, and a forged post must not spend a portal's budget.
BITRIX24_INSTALLS_PER_ADDRESS_PER_HOUR = env_int("BITRIX24_INSTALLS_PER_ADDRESS_PER_HOUR", 120)
BITRIX24_INSTALLS_PER_ACCOUNT_PER_HOUR = env_int("BITRIX24_INSTALLS_PER_ACCOUNT_PER_HOUR", 5)
ROBOKASSA_PAYMENT_URL = env_str(
    "ROBOKASSA_PAYMENT_URL", "https://auth.robokassa.ru/Merchant/Index.aspx"
)
ROBOKASSA_API_BASE_URL = env_str("ROBOKASSA_API_BASE_URL", "")
# YooKassa (billing_providers/yookassa): empty values keep the adapter's defaults (the real API,
# YooKassa's published notification addresses). The idempotence namespace must differ between
# installations sharing a shop (keys live 24 h at YooKassa).
YOOKASSA_API_BASE_URL = env_str("YOOKASSA_API_BASE_URL", "")
YOOKASSA_OAUTH_BASE_URL = env_str("YOOKASSA_OAUTH_BASE_URL", "")
YOOKASSA_NOTIFICATION_NETWORKS = env_list("YOOKASSA_NOTIFICATION_NETWORKS")
YOOKASSA_IDEMPOTENCE_NAMESPACE = env_str("YOOKASSA_IDEMPOTENCE_NAMESPACE", "")
YOOKASSA_OAUTH_CLIENT_ID = env_str("YOOKASSA_OAUTH_CLIENT_ID", "")
YOOKASSA_OAUTH_CLIENT_SECRET = env_str("YOOKASSA_OAUTH_CLIENT_SECRET", "")
# The demo's sandbox (franchise_platform/sandbox/): a stand-in amoCRM deal card on the platform host
# running the real widget against the dummy CRM, and the dummy provider's payment page. Never in
# production: it mints widget tokens with the integration's secret for the demo account.
DEMO_SANDBOX = env_bool("DEMO_SANDBOX", False)
# Constructor options of each billing provider (billing_providers.registry); empty values mean
# "the adapter's default" (Robokassa's real addresses). The dummy's payment page is the sandbox's.
BILLING_PROVIDER_OPTIONS = {
    "robokassa": {
        "payment_url": ROBOKASSA_PAYMENT_URL,
        "api_base_url": ROBOKASSA_API_BASE_URL,
        # When set, every server API (second receipts included) goes to the one base (CONTRACT).
        "fiscal_base_url": ROBOKASSA_API_BASE_URL,
    },
    "yookassa": {
        "api_base_url": YOOKASSA_API_BASE_URL,
        "oauth_base_url": YOOKASSA_OAUTH_BASE_URL,
        "notification_networks": tuple(YOOKASSA_NOTIFICATION_NETWORKS) or None,
        "idempotence_namespace": YOOKASSA_IDEMPOTENCE_NAMESPACE,
        "oauth_client_id": YOOKASSA_OAUTH_CLIENT_ID,
        "oauth_client_secret": YOOKASSA_OAUTH_CLIENT_SECRET,
    },
    "dummy": {"payment_url": "/sandbox/pay/" if DEMO_SANDBOX else ""},
}
# Constructor options of a CRM connector besides the connection's own (crm_sync/connectors.py):
# the dummy's leads live in process memory unless a file is named (the demo: web and worker share it).
CRM_CONNECTOR_OPTIONS: dict[str, dict[str, object]] = {
    "dummy": {"store_path": env_str("DUMMY_CRM_STORE_PATH", "")}
}
# A paid invoice we heard nothing about is asked about after this many minutes (OpStateExt).
RECONCILE_AFTER_MINUTES = env_int("RECONCILE_AFTER_MINUTES", 15)
# An issued invoice can be paid for this long (Robokassa ExpirationDate). Our link is stable: a visit
# after that issues a fresh invoice, so a re-priced or closed link leaves nothing payable for long.
INVOICE_PAYMENT_WINDOW_MINUTES = env_int("INVOICE_PAYMENT_WINDOW_MINUTES", 30)
# Ask the provider (OpStateExt) before a shop's first invoice whether its own history already uses
# the numbers we would start at (payments/invoice_numbers.py).
INVOICE_NUMBER_CHECK = env_bool("INVOICE_NUMBER_CHECK", True)
# Background work presumed lost (its wake-up never ran) after this long; a sender's claim on an
# outbox row lasts OUTBOX_LEASE_SECONDS (longer than any single CRM call with its retries).
PERF_FLOOR_ENDPOINTS = env_bool("PERF_FLOOR_ENDPOINTS", False)
SWEEP_GRACE_SECONDS = env_int("SWEEP_GRACE_SECONDS", 30)
# How an accepted callback reaches the worker once its row is committed (payments/handoff.py):
# "background" (a thread per process publishes what gathered within the window, off the answer's
# path) or "inline" (published in the request). Lost hand-offs are the sweeper's.
CALLBACK_HANDOFF = env_str("CALLBACK_HANDOFF", "background")
if CALLBACK_HANDOFF not in ("background", "inline"):
    raise ImproperlyConfigured("CALLBACK_HANDOFF must be 'background' or 'inline'")
CALLBACK_HANDOFF_WINDOW_MS = env_int("CALLBACK_HANDOFF_WINDOW_MS", 50)
# Applying a stored callback commits without waiting for the WAL flush (payments/callbacks.py says
# why that loses nothing); the event row itself is always committed synchronously.
CALLBACK_APPLY_ASYNC_COMMIT = env_bool("CALLBACK_APPLY_ASYNC_COMMIT", True)
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 90)
# CRM outbox retries are bounded by time, not by a count (an outage of minutes must not kill an
# update): a message is retried for OUTBOX_RETRY_HOURS with full-jitter backoff from
# OUTBOX_BACKOFF_BASE_SECONDS up to OUTBOX_BACKOFF_CAP_SECONDS (kept below the broker's visibility
# timeout). After OUTBOX_BREAKER_THRESHOLD transient failures in a row an account's circuit
# breaker opens and one probe at a time tests the CRM. Dead rows are e-mailed to the owner at
# most once per OUTBOX_DEAD_NOTICE_MINUTES. CRM_SYNC_CLOCK: a dotted callable returning "now"
# for the sender (tests move a worker's clock with it); empty means the system clock.
OUTBOX_RETRY_HOURS = env_int("OUTBOX_RETRY_HOURS", 72)
OUTBOX_BACKOFF_BASE_SECONDS = env_int("OUTBOX_BACKOFF_BASE_SECONDS", 5)
OUTBOX_BACKOFF_CAP_SECONDS = env_int("OUTBOX_BACKOFF_CAP_SECONDS", 900)
OUTBOX_BREAKER_THRESHOLD = env_int("OUTBOX_BREAKER_THRESHOLD", 3)
OUTBOX_DEAD_NOTICE_MINUTES = env_int("OUTBOX_DEAD_NOTICE_MINUTES", 60)
CRM_SYNC_CLOCK = env_str("CRM_SYNC_CLOCK", "")
RECONCILE_MAX_AGE_DAYS = env_int("RECONCILE_MAX_AGE_DAYS", 8)
# Refunds made elsewhere (payments/refunds.py): a paid invoice is asked about (OpStateExt State 60)
# for this many days after payment, each at most every this many hours, at most this many per
# network and reconcile run, the calls this many milliseconds apart (the provider's rate limit).
REFUND_WATCH_DAYS = env_int("REFUND_WATCH_DAYS", 30)
REFUND_WATCH_EVERY_HOURS = env_int("REFUND_WATCH_EVERY_HOURS", 6)
REFUND_WATCH_BATCH = env_int("REFUND_WATCH_BATCH", 50)
REFUND_WATCH_PAUSE_MS = env_int("REFUND_WATCH_PAUSE_MS", 200)
# A refund's state is first asked this many seconds after Robokassa took it, then twice as long
# each time, at most an hour apart.
REFUND_POLL_FIRST_SECONDS = env_int("REFUND_POLL_FIRST_SECONDS", 30)

# --- Observability (observability/): /metrics behind a bearer token; off (404) when unset ------
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- Security headers ------------------------------------------------------------------------
# Every page's scripts and styles are static files of our own origin: no inline <script>, <style>,
# style="" or on*= anywhere, and htmx's own inline style and eval are off (its meta config in the
# layouts). Nothing of ours is framed, amoCRM included: the widget runs in amoCRM's page and only
# calls our JSON API; every link it shows opens a new tab. Tests: tests/foundation/test_headers.py
# and the browser suites, which fail on any CSP violation.
_NETWORK_HOSTS = f"{PLATFORM_SCHEME}://*.{PLATFORM_DOMAIN}:*"
# Each directive: its sources, or True for a flag (prod adds upgrade-insecure-requests).
CONTENT_SECURITY_POLICY: dict[str, dict[str, list[str] | bool]] = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the favicon and the select arrow drawn in panel.css.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        # Forms post to their own host; the sign-up ends on the new network's host (any port: it is
        # the one the person typed) and the amoCRM button on amoCRM's consent page
        # (crm_connectors/amocrm/consts.py OAUTH_CONSENT_URL): browsers check redirects too.
        "form-action": ["'self'", _NETWORK_HOSTS, "https://www.amocrm.ru"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
# Django's defaults, stated because tests and reviewers read them here; prod adds HSTS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Auth, sessions, brute force ---------------------------------------------------------------
LOGIN_URL = "panel:login"
LOGIN_REDIRECT_URL = "panel:home"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Failed sign-ins (accounts/login_throttle.py) per e-mail *and* address, and per address over all
# e-mails; never per e-mail alone, which would let anyone lock a chosen person out. Past the free
# failures each further one doubles the wait, from the first delay up to the longest.
LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", 5)
LOGIN_ADDRESS_FREE_FAILURES = env_int("LOGIN_ADDRESS_FREE_FAILURES", 30)
LOGIN_DELAY_FIRST_SECONDS = env_int("LOGIN_DELAY_FIRST_SECONDS", 60)
LOGIN_DELAY_MAX_SECONDS = env_int("LOGIN_DELAY_MAX_SECONDS", 3600)
LOGIN_FAILURES_FORGOTTEN_SECONDS = env_int("LOGIN_FAILURES_FORGOTTEN_SECONDS", 24 * 3600)
# Wrong second-factor codes: each failure doubles the wait before the next try (django-otp).
OTP_TOTP_THROTTLE_FACTOR = 1
# Argon2id with OWASP's parameters (see accounts/hashers.py for the measured reason); PBKDF2 stays
# to verify (and upgrade) older hashes.
PASSWORD_HASHERS = [
    "franchise_platform.accounts.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-up abuse limits (tenants/abuse.py) -------------------------------------------------
# Networks one client address may create per hour (the landing's form and the API); 0 = no limit.
SIGNUP_RATE_LIMIT = env_int("SIGNUP_RATE_LIMIT", 5)
# Trusted proxies in front of the app (nginx, an ingress): the client address is that many entries
# from the right of X-Forwarded-For. 0: REMOTE_ADDR is the client (no proxy).
CLIENT_IP_PROXY_HOPS = env_int("CLIENT_IP_PROXY_HOPS", 0)
# E-mails anybody can ask for (password reset, e-mail verification: accounts/mail_limits.py) per
# client address and per recipient per hour, and the sign-up's live address check per client
# address per minute; 0 = no limit.
EMAIL_REQUESTS_PER_ADDRESS_PER_HOUR = env_int("EMAIL_REQUESTS_PER_ADDRESS_PER_HOUR", 10)
EMAILS_PER_RECIPIENT_PER_HOUR = env_int("EMAILS_PER_RECIPIENT_PER_HOUR", 3)
SLUG_CHECKS_PER_ADDRESS_PER_MINUTE = env_int("SLUG_CHECKS_PER_ADDRESS_PER_MINUTE", 60)

# --- i18n: Russian first, English second -------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Русский")), ("en", _("English"))]
LOCALE_PATHS = [REPO_DIR / "locale"]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = REPO_DIR / "staticfiles"
STATICFILES_DIRS = [REPO_DIR / "frontend" / "static"]
# What a served instance uses (the image, `make run`): content-hashed names, so a file can be cached
# for good, and gzip copies, both made by collectstatic (the image's build, the `all` role) and served
# by WhiteNoise in the web process (deploy/gunicorn.conf.py). Development and tests, which serve
# sources without collecting them, use the plain storage (settings/dev.py, settings/test.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
PLAIN_STATIC_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "franchise_platform.request_context.ContextFilter"}},
    "formatters": {
        "json": {"()": "franchise_platform.request_context.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_context"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
