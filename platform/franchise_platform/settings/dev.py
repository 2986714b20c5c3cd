"""Local development: `make run`."""

from .base import *  # noqa: F403
from .local_secrets import local_secret_key

DEBUG = True

# Never a constant: `make run` exports SECRET_KEY from .local/secret-key; manage.py run by hand
# reads the same file, generating it on the first run.
if not SECRET_KEY:  # type: ignore[used-before-def]  # noqa: F405 - from base
    SECRET_KEY = local_secret_key(REPO_DIR / ".local" / "secret-key")  # noqa: F405

# `make run` exports PLATFORM_ENCRYPTION_KEYS from .local/encryption-keys; read the same file when
# manage.py is run by hand.
if not PLATFORM_ENCRYPTION_KEYS:  # type: ignore[used-before-def]  # noqa: F405 - from base
    _keyfile = REPO_DIR / ".local" / "encryption-keys"  # noqa: F405
    if _keyfile.exists():
        PLATFORM_ENCRYPTION_KEYS = [k for k in _keyfile.read_text().split(",") if k.strip()]
