"""Errors of connecting a network to a CRM, with a message the person can act on (in Russian)."""

from __future__ import annotations


class ConnectError(Exception):
    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
