"""Rules for a network's address (slug) and the schema name derived from it."""

from __future__ import annotations

import re

from django.db import connection
from django.utils.translation import gettext as _

from .errors import NetworkValidationError

RESERVED_SLUGS = frozenset({"www", "api", "admin", "public", "static", "media", "app", "mail"})
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")


def schema_name_for_slug(slug: str) -> str:
    return slug.replace("-", "_")


def existing_schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def slug_validate(slug: str) -> str:
    """Return the normalised slug or raise NetworkValidationError with a message for a person."""
    slug = (slug or "").strip().lower()
    if not _SLUG_RE.match(slug):
        raise NetworkValidationError(
            _(
                "Адрес сети: от 3 до 40 символов — латинские буквы, цифры и дефис; "
                "не может начинаться или заканчиваться дефисом."
            ),
            "invalid_slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise NetworkValidationError(
            _("Этот адрес зарезервирован, выберите другой."), "reserved_slug"
        )
    return slug


def schema_is_free(slug: str) -> bool:
    """False when a schema of that name exists without being a network (template, system...)."""
    return schema_name_for_slug(slug) not in existing_schema_names()
