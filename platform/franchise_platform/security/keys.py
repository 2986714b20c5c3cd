"""Master keys from PLATFORM_ENCRYPTION_KEYS: comma-separated, newest first, each 32 random bytes in
URL-safe base64. A key is named by a short fingerprint so a wrapped data key says which key wrapped it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from django.conf import settings

from .errors import MasterKeyError


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    material: bytes = field(repr=False)


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _parse(raw: str) -> MasterKey:
    try:
        material = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    except (ValueError, TypeError) as exc:
        raise MasterKeyError("A master key in PLATFORM_ENCRYPTION_KEYS is not base64.") from exc
    if len(material) != 32:
        raise MasterKeyError("Each master key in PLATFORM_ENCRYPTION_KEYS must be 32 bytes.")
    key_id = hashlib.sha256(b"fp-master-key" + material).hexdigest()[:12]
    return MasterKey(key_id=key_id, material=material)


def master_keys() -> list[MasterKey]:
    """All configured master keys, newest (the one that wraps new data keys) first."""
    raw_keys: list[str] = list(getattr(settings, "PLATFORM_ENCRYPTION_KEYS", []))
    if not raw_keys:
        raise MasterKeyError("PLATFORM_ENCRYPTION_KEYS is empty: no secret can be stored or read.")
    return [_parse(raw) for raw in raw_keys]


def master_key_by_id(key_id: str) -> MasterKey:
    for key in master_keys():
        if key.key_id == key_id:
            return key
    raise MasterKeyError(f"Master key {key_id} is not in PLATFORM_ENCRYPTION_KEYS.")
