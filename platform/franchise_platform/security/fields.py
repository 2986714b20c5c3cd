"""EncryptedField: a model field whose value is sealed with the network's data key.

The column holds the token; the attribute holds the plain value, decrypted lazily on first access
(so listing rows never decrypts). The plain value is JSON-encoded before sealing, so "", 0 and False
come back as themselves. The row's primary key is part of the associated data: models using this
field must have a primary key that is known before the first save (a UUID default).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from .envelope import open_sealed, seal


class _Sealed:
    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token


class _EncryptedDescriptor:
    def __init__(self, field: EncryptedField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if isinstance(value, _Sealed):
            value = json.loads(
                open_sealed(
                    value.token,
                    context=self.field.context(instance),
                    allow_public=self.field.allow_public,
                )
            )
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedField(models.TextField):  # type: ignore[type-arg]
    description = "A value encrypted with the network's data key"

    def __init__(self, *args: Any, allow_public: bool = False, **kwargs: Any) -> None:
        # Only platform models in the public schema that must hold a secret opt in.
        self.allow_public = allow_public
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.allow_public:
            kwargs["allow_public"] = True
        return name, path, args, kwargs

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _EncryptedDescriptor(self))

    def context(self, instance: models.Model) -> str:
        if instance.pk is None:
            raise ValueError(
                f"{type(instance).__name__} needs its primary key before sealing a secret."
            )
        return f"{instance._meta.label_lower}|{self.attname}|{instance.pk}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else _Sealed(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname)
        if value is None:
            return None
        if isinstance(value, _Sealed):
            return value.token
        return seal(
            json.dumps(value).encode(),
            context=self.context(model_instance),
            allow_public=self.allow_public,
        )

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, _Sealed):
            return value.token
        if value is None or (isinstance(value, str) and value.startswith("fpenc:")):
            return value
        raise TypeError("Encrypted fields cannot be used in lookups.")

    def sealed_token(self, instance: models.Model) -> str | None:
        """The stored token without decrypting (rotation); None if unset or not yet saved."""
        value = instance.__dict__.get(self.attname)
        return value.token if isinstance(value, _Sealed) else None
