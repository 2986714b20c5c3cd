"""Local development: `make dev` (runserver with auto-reload and debug pages). `make run` uses
settings/local.py, which is this with the production server's DEBUG and static files."""

from .base import *  # noqa: F403
from .env import env_bool, env_str
from .local_secrets import local_secret_key

DEBUG = True
# runserver serves static sources from their folders; nothing is collected first.
STORAGES = PLAIN_STATIC_STORAGES  # noqa: F405
# The demo (README «Try it locally»): the sandbox deal card, the dummy CRM's leads in a file that
# web and worker share, and the dummy provider's payment page on the network host.
DEMO_SANDBOX = env_bool("DEMO_SANDBOX", True)
CRM_CONNECTOR_OPTIONS = {
    "dummy": {
        "store_path": env_str(
            "DUMMY_CRM_STORE_PATH",
            str(REPO_DIR / ".local" / "dummy-crm.json"),  # noqa: F405
        )
    }
}
BILLING_PROVIDER_OPTIONS["dummy"] = {"payment_url": "/sandbox/pay/" if DEMO_SANDBOX else ""}  # noqa: F405

# Never a constant: `make run` exports SECRET_KEY from .local/secret-key; manage.py run by hand
# reads the same file, generating it on the first run.
if not SECRET_KEY:  # type: ignore[used-before-def]  # noqa: F405 - from base
    SECRET_KEY = local_secret_key(REPO_DIR / ".local" / "secret-key")  # noqa: F405

# Nor a published amoCRM client secret: it signs the widget's tokens (and the disconnect hook),
# so with the placeholder anyone could mint a token for a `make run` instance. A real
# integration's secret comes from the environment and wins.
if AMOCRM_CLIENT_SECRET == AMOCRM_CLIENT_SECRET_PLACEHOLDER:  # type: ignore[used-before-def]  # noqa: F405
    AMOCRM_CLIENT_SECRET = local_secret_key(REPO_DIR / ".local" / "amocrm-client-secret")  # noqa: F405

# `make run` exports PLATFORM_ENCRYPTION_KEYS from .local/encryption-keys; read the same file when
# manage.py is run by hand.
if not PLATFORM_ENCRYPTION_KEYS:  # type: ignore[used-before-def]  # noqa: F405 - from base
    _keyfile = REPO_DIR / ".local" / "encryption-keys"  # noqa: F405
    if _keyfile.exists():
        PLATFORM_ENCRYPTION_KEYS = [k for k in _keyfile.read_text().split(",") if k.strip()]
