"""Refusals of the royalty services: a message for a person (Russian) and a machine code."""

from __future__ import annotations


class RoyaltyError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
