"""Errors raised by CRM connectors.

The core decides what to do from the class and the ``permanent`` flag alone:

    CrmError                      permanent?  what the caller does
    ├── CrmUnavailable            no          retry later (network, timeout, 5xx, a status
    │   │                                     not known to be final, a 404 on a list, an
    │   │                                     unreadable answer)
    │   └── CrmRateLimited        no          retry after ``retry_after`` seconds (429)
    ├── CrmAuthError              yes         re-authorise (401 after a refresh, invalid_grant)
    │   └── CrmAccessRevoked      yes         stop every call for the account (403, disabled)
    ├── CrmPaymentRequired        yes         pause the account until its CRM plan is paid (402)
    ├── CrmNotFound               yes         the entity is gone (404 on one entity)
    └── CrmValidationError        yes         the CRM refused the data (400, 422)

    WidgetTokenError                          an inbound widget token is not acceptable

Messages never carry tokens or secrets: they are built from status codes and the vendor's
validation text only.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base class; ``permanent`` says whether retrying the same call can ever succeed."""

    permanent: bool = True
    default_code: str = "crm_error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message or self.default_code)
        self.message = message or self.default_code
        self.code = code or self.default_code
        self.status = status
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r})"


class CrmUnavailable(CrmError):
    """The CRM could not be reached, answered 5xx or something that may pass; the same call may
    succeed later. Never a reason to give up on a change before its retry window closes."""

    permanent = False
    default_code = "crm_unavailable"


class CrmRateLimited(CrmUnavailable):
    """429, or our own limiter could not get a slot in time."""

    default_code = "crm_rate_limited"

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, request_id=request_id)
        self.retry_after = retry_after


class CrmAuthError(CrmError):
    """The stored authorisation no longer works (refresh refused, 401 after a refresh)."""

    default_code = "crm_auth"


class CrmAccessRevoked(CrmAuthError):
    """403 or integration disabled: make no further calls for this account."""

    default_code = "crm_access_revoked"


class CrmPaymentRequired(CrmError):
    """402: the customer's CRM subscription ended; pause instead of retrying."""

    default_code = "crm_payment_required"


class CrmNotFound(CrmError):
    """The entity (lead, field, note) does not exist in the account."""

    default_code = "crm_not_found"


class CrmValidationError(CrmError):
    """The CRM rejected the request body (400/422); ``errors`` holds its reasons."""

    default_code = "crm_validation"

    def __init__(
        self,
        message: str = "",
        *,
        errors: tuple[str, ...] = (),
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status, request_id=request_id)
        self.errors = errors


class WidgetTokenError(Exception):
    """A widget's disposable token was refused; ``code`` names the reason (answer 401)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code

    def __repr__(self) -> str:
        return f"WidgetTokenError(code={self.code!r})"
