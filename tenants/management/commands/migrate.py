"""`migrate` is `migrate_schemas` (as in django-tenants) and keeps the template schema current too."""

from .migrate_schemas import Command

__all__ = ["Command"]
