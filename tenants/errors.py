"""Errors raised by network services; the API maps them to {"detail", "code"} answers."""

from __future__ import annotations


class NetworkError(Exception):
    status = 400

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class NetworkValidationError(NetworkError):
    status = 422


class NetworkConflict(NetworkError):
    status = 409


class ClaimRefused(NetworkError):
    """A claim code could not be issued or used; `status` says how the API answers."""

    def __init__(self, detail: str, code: str, status: int = 422) -> None:
        super().__init__(detail, code)
        self.status = status


class SignupRateLimited(NetworkError):
    status = 429
