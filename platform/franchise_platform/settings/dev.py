"""Local development: `make run`."""

from .base import *  # noqa: F403

DEBUG = True

# `make run` exports PLATFORM_ENCRYPTION_KEYS from .local/encryption-keys; read the same file when
# manage.py is run by hand.
if not PLATFORM_ENCRYPTION_KEYS:  # type: ignore[used-before-def]  # noqa: F405 - from base
    _keyfile = REPO_DIR / ".local" / "encryption-keys"  # noqa: F405
    if _keyfile.exists():
        PLATFORM_ENCRYPTION_KEYS = [k for k in _keyfile.read_text().split(",") if k.strip()]
