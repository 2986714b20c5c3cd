"""Key rotation: re-wrap data keys under the newest master key, and re-seal values under a schema's
newest data key. Both steps are idempotent, so an interrupted run resumes where it stopped.

Every schema with data keys is rotated: each network's, and the public schema's (pending marketplace
installs and unbound accounts keep sealed OAuth codes and tokens there). Only when all of them are
done can the old master key be withdrawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django_tenants.utils import get_public_schema_name

from .envelope import current_schema, data_key_create, token_version, unwrap_data_key, wrap_data_key
from .fields import EncryptedField
from .keys import master_keys
from .models import DataKey

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationReport:
    rewrapped_keys: int
    resealed_rows: int
    new_data_key_version: int | None


def _apps_of_schema(schema: str) -> set[str]:
    """The apps whose tables live in `schema`: the shared apps in public, the tenant apps elsewhere.
    (A network's search_path also reaches public, so a public table must not be re-sealed there.)"""
    names = settings.SHARED_APPS if schema == get_public_schema_name() else settings.TENANT_APPS
    return set(names)


def encrypted_models(
    schema: str | None = None,
) -> Iterator[tuple[type[models.Model], list[EncryptedField]]]:
    """Models with encrypted fields whose table lives in `schema` (every such model if None)."""
    app_names = _apps_of_schema(schema) if schema is not None else None
    for model in apps.get_models():
        if app_names is not None and model._meta.app_config.name not in app_names:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if fields:
            yield model, fields


def data_keys_rewrap() -> int:
    """Re-wrap the current schema's data keys that are not under the newest master key."""
    schema = current_schema(allow_public=True)
    newest = master_keys()[0]
    count = 0
    for row in DataKey.objects.exclude(master_key_id=newest.key_id):
        material = unwrap_data_key(row, schema=schema)
        row.wrapped_key = wrap_data_key(material, schema=schema, version=row.version, master=newest)
        row.master_key_id = newest.key_id
        row.save(update_fields=["wrapped_key", "master_key_id"])
        count += 1
    return count


def _stale(instance: models.Model, fields: list[EncryptedField], active: int) -> bool:
    for field in fields:
        token = field.sealed_token(instance)
        if token is not None and token_version(token) != active:
            return True
    return False


def values_reseal(*, progress: Progress | None = None, batch: int = 200) -> int:
    """Re-seal every value of the current schema not sealed under its active data key. Returns how
    many rows changed."""
    active = DataKey.objects.filter(retired_at__isnull=True).order_by("-version").first()
    if active is None:
        return 0
    todo = list(encrypted_models(current_schema(allow_public=True)))
    total = sum(m._default_manager.count() for m, _ in todo)
    done = changed = 0
    for model, fields in todo:
        last_pk = None
        while True:
            qs = model._default_manager.order_by("pk")
            if last_pk is not None:
                qs = qs.filter(pk__gt=last_pk)
            rows = list(qs[:batch])
            if not rows:
                break
            with transaction.atomic():
                for row in rows:
                    if _stale(row, fields, active.version):
                        for field in fields:
                            # Reading decrypts with the old key; saving seals with the active one.
                            setattr(row, field.attname, getattr(row, field.attname))
                        row.save(update_fields=[f.attname for f in fields])
                        changed += 1
            done += len(rows)
            last_pk = rows[-1].pk
            if progress:
                progress(done, total)
    return changed


def network_keys_rotate(*, new_data_key: bool, progress: Progress | None = None) -> RotationReport:
    """Rotate the current schema's keys (a network's or the public one); see the module docstring."""
    rewrapped = data_keys_rewrap()
    schema = current_schema(allow_public=True)
    version = data_key_create(schema=schema).version if new_data_key else None
    resealed = values_reseal(progress=progress)
    return RotationReport(rewrapped, resealed, version)
