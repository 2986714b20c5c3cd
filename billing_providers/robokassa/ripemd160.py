"""RIPEMD-160 for Python builds whose OpenSSL 3 hides it (``hashlib.new("ripemd160")``
raises there). Pure Python, hashlib-like, good enough for short signature strings.

``new()`` prefers hashlib's implementation and falls back to ``PureRipemd160``.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_MASK = 0xFFFFFFFF

_R_LEFT = (
    *range(16),
    *(7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8),
    *(3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12),
    *(1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2),
    *(4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13),
)
_R_RIGHT = (
    *(5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12),
    *(6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2),
    *(15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13),
    *(8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14),
    *(12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11),
)
_S_LEFT = (
    *(11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8),
    *(7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12),
    *(11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5),
    *(11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12),
    *(9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6),
)
_S_RIGHT = (
    *(8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6),
    *(9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11),
    *(9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5),
    *(15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8),
    *(8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11),
)
_K_LEFT = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_K_RIGHT = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)
_INITIAL = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)


class HashObject(Protocol):
    """The part of hashlib's hash interface that ``hmac`` and our signers use."""

    @property
    def digest_size(self) -> int: ...
    @property
    def block_size(self) -> int: ...
    @property
    def name(self) -> str: ...
    def update(self, data: ReadableBuffer, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> HashObject: ...


def _rol(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def _f(round_index: int, x: int, y: int, z: int) -> int:
    if round_index == 0:
        return x ^ y ^ z
    if round_index == 1:
        return (x & y) | (~x & z)
    if round_index == 2:
        return (x | ~y) ^ z
    if round_index == 3:
        return (x & z) | (y & ~z)
    return x ^ (y | ~z)


def _compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    words = struct.unpack("<16I", block)
    al, bl, cl, dl, el = state
    ar, br, cr, dr, er = state
    for j in range(80):
        rnd = j // 16
        t = _rol((al + _f(rnd, bl, cl, dl) + words[_R_LEFT[j]] + _K_LEFT[rnd]) & _MASK, _S_LEFT[j])
        t = (t + el) & _MASK
        al, el, dl, cl, bl = el, dl, _rol(cl, 10), bl, t
        t = _rol(
            (ar + _f(4 - rnd, br, cr, dr) + words[_R_RIGHT[j]] + _K_RIGHT[rnd]) & _MASK,
            _S_RIGHT[j],
        )
        t = (t + er) & _MASK
        ar, er, dr, cr, br = er, dr, _rol(cr, 10), br, t
    h0, h1, h2, h3, h4 = state
    return (
        (h1 + cl + dr) & _MASK,
        (h2 + dl + er) & _MASK,
        (h3 + el + ar) & _MASK,
        (h4 + al + br) & _MASK,
        (h0 + bl + cr) & _MASK,
    )


class PureRipemd160:
    """A hashlib-compatible RIPEMD-160 object."""

    digest_size = 20
    block_size = 64
    name = "ripemd160"

    def __init__(self, data: bytes = b"") -> None:
        self._state: tuple[int, ...] = _INITIAL
        self._buffer = b""
        self._length = 0
        self.update(data)

    def update(self, data: ReadableBuffer, /) -> None:
        chunk = bytes(data)
        self._length += len(chunk)
        buffer = self._buffer + chunk
        full = len(buffer) - len(buffer) % 64
        for offset in range(0, full, 64):
            self._state = _compress(self._state, buffer[offset : offset + 64])
        self._buffer = buffer[full:]

    def digest(self) -> bytes:
        bit_length = (self._length * 8) & 0xFFFFFFFFFFFFFFFF
        padding = b"\x80" + b"\x00" * ((55 - self._length) % 64)
        tail = self._buffer + padding + struct.pack("<Q", bit_length)
        state = self._state
        for offset in range(0, len(tail), 64):
            state = _compress(state, tail[offset : offset + 64])
        return struct.pack("<5I", *state)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> PureRipemd160:
        clone = PureRipemd160()
        clone._state, clone._buffer, clone._length = self._state, self._buffer, self._length
        return clone


def new(data: bytes = b"") -> HashObject:
    """A RIPEMD-160 hash object: hashlib's when available, else the pure-Python one."""
    try:
        return hashlib.new("ripemd160", data)
    except ValueError:
        return PureRipemd160(data)
