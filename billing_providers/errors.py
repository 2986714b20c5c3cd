"""Errors raised by billing providers.

    ProviderError                 base; ``permanent`` tells the core whether retrying can help
    ├── ProviderConfigError       permanent: bad or missing shop settings, unknown provider,
    │                             a request the provider can never accept
    ├── ProviderUnavailable       retryable: network errors, timeouts, HTTP 5xx, vendor
    │                             "internal error" answers
    └── ProviderResponseError     the provider answered something we cannot use (bad XML,
                                  unexpected codes); permanent unless stated otherwise

Messages never carry secrets (passwords, signatures): they name the setting, not its value.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class. ``code`` is a short machine-readable reason; ``permanent`` is False when
    the same call may succeed later."""

    default_code = "provider_error"
    default_permanent = True

    def __init__(self, message: str, *, code: str | None = None, permanent: bool | None = None):
        super().__init__(message)
        self.message = message
        self.code: str = code or self.default_code
        self.permanent: bool = self.default_permanent if permanent is None else permanent

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"permanent={self.permanent!r})"
        )


class ProviderConfigError(ProviderError):
    """The shop's settings or the request are wrong; retrying will not help."""

    default_code = "config_error"
    default_permanent = True


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side; retry later."""

    default_code = "unavailable"
    default_permanent = False


class ProviderResponseError(ProviderError):
    """The provider's answer could not be understood or reports an unexpected condition."""

    default_code = "bad_response"
    default_permanent = True
