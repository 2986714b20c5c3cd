"""Envelope encryption: each network has its own data keys (in its own schema), wrapped by the
master keys. Values are sealed with AES-256-GCM; the associated data binds the ciphertext to the
network, the model, the field and the row, so a value copied anywhere else fails to open.

Token format: ``fpenc:1:<data key version>:<base64url(nonce | ciphertext | tag)>``.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection, transaction
from django.utils import timezone

from .errors import DecryptionError, MasterKeyError, NoNetworkError
from .keys import MasterKey, master_key_by_id, master_keys
from .models import DataKey

PREFIX = "fpenc"
FORMAT_VERSION = "1"
_NONCE = 12

# Unwrapped data keys, keyed by the key row itself: (schema, row id, row created, version). A row's
# material never changes (re-wrapping keeps it), but a schema dropped and created again under the
# same name (a network deleted, its slug signed up anew) starts over at row 1, version 1 with new
# material: the row's creation time tells the two apart, so a stale key is never used to seal.
# Opening a value knows only (schema, version) from the token, so `_latest` points at the identity
# last seen for it; if that material fails to open a value, the row is read again (see open_sealed).
_KeyIdentity = tuple[str, int, float, int]
_cache: dict[_KeyIdentity, bytes] = {}
_latest: dict[tuple[str, int], _KeyIdentity] = {}
_cache_lock = threading.Lock()


def _identity(row: DataKey, schema: str) -> _KeyIdentity:
    return (schema, int(row.pk), row.created_at.timestamp(), int(row.version))


def _remember(identity: _KeyIdentity, material: bytes) -> None:
    with _cache_lock:
        _cache[identity] = material
        _latest[(identity[0], identity[3])] = identity


def current_schema(*, allow_public: bool = False) -> str:
    """The schema whose data keys seal and open values. The public schema has keys of its own,
    used only by the few platform models that opt in (pending marketplace installs)."""
    schema: str = getattr(connection, "schema_name", "public")
    if schema == "public" and not allow_public:
        raise NoNetworkError("Secrets belong to a network; the connection is on the public schema.")
    return schema


def _wrap_aad(schema: str, version: int) -> bytes:
    return f"fp-datakey|{schema}|{version}".encode()


def wrap_data_key(material: bytes, *, schema: str, version: int, master: MasterKey) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master.material).encrypt(nonce, material, _wrap_aad(schema, version))


def unwrap_data_key(row: DataKey, *, schema: str) -> bytes:
    blob = bytes(row.wrapped_key)
    master = master_key_by_id(row.master_key_id)
    try:
        return AESGCM(master.material).decrypt(
            blob[:_NONCE], blob[_NONCE:], _wrap_aad(schema, row.version)
        )
    except InvalidTag as exc:
        raise MasterKeyError(
            f"Data key v{row.version} does not open with master key {master.key_id}."
        ) from exc


def data_key_create(*, schema: str | None = None) -> DataKey:
    """Make a new active data key for the current network; older ones stay for decryption."""
    schema = schema or current_schema()
    master = master_keys()[0]
    material = AESGCM.generate_key(bit_length=256)
    with transaction.atomic():
        last = DataKey.objects.select_for_update().order_by("-version").first()
        version = (last.version if last else 0) + 1
        row = DataKey.objects.create(
            version=version,
            master_key_id=master.key_id,
            wrapped_key=wrap_data_key(material, schema=schema, version=version, master=master),
        )
        DataKey.objects.filter(version__lt=version, retired_at__isnull=True).update(
            retired_at=timezone.now()
        )
    _remember(_identity(row, schema), material)
    return row


def _active_key(schema: str) -> tuple[int, bytes]:
    row = DataKey.objects.filter(retired_at__isnull=True).order_by("-version").first()
    if row is None:
        row = data_key_create(schema=schema)
    return row.version, _material(schema, row.version, row)


def _material(schema: str, version: int, row: DataKey | None = None) -> bytes:
    """The unwrapped key of `row`, or (without a row) of the identity last seen for `version`."""
    with _cache_lock:
        identity = _identity(row, schema) if row is not None else _latest.get((schema, version))
        cached = _cache.get(identity) if identity is not None else None
    if cached is not None:
        return cached
    if row is None:
        row = DataKey.objects.filter(version=version).first()
        if row is None:
            raise DecryptionError(f"Data key v{version} does not exist in this network.")
    material = unwrap_data_key(row, schema=schema)
    _remember(_identity(row, schema), material)
    return material


def _material_reread(schema: str, version: int) -> bytes | None:
    """The key of `version` read from its row again; None when it is the one already cached."""
    row = DataKey.objects.filter(version=version).first()
    if row is None:
        return None
    with _cache_lock:
        if _latest.get((schema, version)) == _identity(row, schema):
            return None
    return _material(schema, version, row)


def _aad(schema: str, context: str) -> bytes:
    return f"fp-value|{schema}|{context}".encode()


def seal(plaintext: bytes, *, context: str, allow_public: bool = False) -> str:
    """Encrypt for the current network under its active data key. `context` names model, field, row."""
    schema = current_schema(allow_public=allow_public)
    version, material = _active_key(schema)
    nonce = os.urandom(_NONCE)
    sealed = nonce + AESGCM(material).encrypt(nonce, plaintext, _aad(schema, context))
    return f"{PREFIX}:{FORMAT_VERSION}:{version}:{base64.urlsafe_b64encode(sealed).decode()}"


def token_version(token: str) -> int:
    """The data key version a token was sealed with; raises DecryptionError for a malformed token."""
    parts = token.split(":")
    if (
        len(parts) != 4
        or parts[0] != PREFIX
        or parts[1] != FORMAT_VERSION
        or not (parts[2].isascii() and parts[2].isdigit())
    ):
        raise DecryptionError("Not an encrypted value of this platform.")
    return int(parts[2])


def open_sealed(token: str, *, context: str, allow_public: bool = False) -> bytes:
    """Decrypt a token sealed for this network and context; raises DecryptionError otherwise."""
    schema = current_schema(allow_public=allow_public)
    version = token_version(token)
    try:
        blob = base64.urlsafe_b64decode(token.split(":")[3].encode())
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("Encrypted value is damaged.") from exc
    if len(blob) < _NONCE + 16:
        raise DecryptionError("Encrypted value is truncated.")
    nonce, sealed, aad = blob[:_NONCE], blob[_NONCE:], _aad(schema, context)
    try:
        return AESGCM(_material(schema, version)).decrypt(nonce, sealed, aad)
    except InvalidTag:
        # The cached key may belong to an earlier schema of the same name: try the row as it is.
        fresh = _material_reread(schema, version)
        if fresh is not None:
            try:
                return AESGCM(fresh).decrypt(nonce, sealed, aad)
            except InvalidTag:
                pass
    raise DecryptionError("Encrypted value does not belong here or was altered.")


def forget_cached_keys() -> None:
    """Drop unwrapped keys from this process (tests; after a master key is withdrawn)."""
    with _cache_lock:
        _cache.clear()
        _latest.clear()
