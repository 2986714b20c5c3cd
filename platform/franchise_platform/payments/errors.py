"""Refusals of the link lifecycle, with a message a manager understands (Russian first)."""

from __future__ import annotations


class LinkRefused(Exception):
    """The deal cannot get payment links as it stands; answered 422 with `detail` and `code`."""

    status = 422

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
