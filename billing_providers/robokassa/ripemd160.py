"""RIPEMD-160 through pycryptodome: OpenSSL 3 hides it from ``hashlib.new("ripemd160")`` on
many builds, and a hand-written hash is not code a payment platform should keep.

``new()`` returns a hashlib-compatible object (``update``, ``digest``, ``hexdigest``, ``copy``,
``digest_size``, ``block_size``), so it also serves ``hmac.new(key, msg, new)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from Crypto.Hash import RIPEMD160

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class HashObject(Protocol):
    """What hashlib's objects and this module's share (the part the signatures use)."""

    @property
    def digest_size(self) -> int: ...

    @property
    def block_size(self) -> int: ...

    def update(self, data: ReadableBuffer, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> HashObject: ...


def new(data: bytes = b"") -> HashObject:
    """A RIPEMD-160 hash object, the same on every OpenSSL build."""
    return cast("HashObject", RIPEMD160.new(data))
