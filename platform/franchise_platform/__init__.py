"""The Django project and the product's core. `platform/` above is a source root, never a package:
a package named `platform` would shadow the standard library's module."""

from .celery import app as celery_app

__all__ = ["celery_app"]
