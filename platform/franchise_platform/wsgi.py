import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.dev")

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

application = get_wsgi_application()


def _urlconfs_load() -> None:
    """Load both URL configurations, and with them every view module, before the first request.

    Otherwise the first request a process serves (after a start, or after gunicorn recycles a
    worker at `max_requests`) imports them itself: about 0.2 s, seen in a benchmark's profile of a
    callback burst."""
    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        get_resolver(urlconf).reverse_dict  # noqa: B018 - imports the views and fills the index


_urlconfs_load()
