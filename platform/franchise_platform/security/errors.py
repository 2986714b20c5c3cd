"""Errors of the secrets layer. A failure to decrypt is always loud: ciphertext is never returned
as if it were plaintext."""

from __future__ import annotations


class SecretsError(Exception):
    """Base of every error raised by franchise_platform.security."""


class MasterKeyError(SecretsError):
    """PLATFORM_ENCRYPTION_KEYS is missing, malformed, or lacks the key a data key was wrapped with."""


class DecryptionError(SecretsError):
    """A ciphertext failed authentication: wrong key, moved to another row or network, or damaged."""


class NoNetworkError(SecretsError):
    """Encryption needs a network schema; the connection is on the public schema."""
