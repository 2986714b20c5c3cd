"""The audit log: who changed what. Secret fields appear as changed, never with a value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .models import AuditEntry

SECRET_MARK = "••• изменён"


def audit_record(
    *,
    actor: str,
    action: str,
    obj: Any = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    secret_fields: Iterable[str] = (),
    ip_address: str | None = None,
) -> AuditEntry:
    secret = set(secret_fields)
    clean: dict[str, Any] = {}
    for name, (old, new) in (changes or {}).items():
        if name in secret:
            clean[name] = SECRET_MARK
        else:
            clean[name] = [_plain(old), _plain(new)]
    return AuditEntry.objects.create(
        actor=actor[:254],
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "pk", "") or ""),
        object_repr=str(obj)[:300] if obj is not None else "",
        changes=clean,
        ip_address=ip_address,
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
