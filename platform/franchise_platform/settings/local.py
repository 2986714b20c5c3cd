"""`make run`: the platform as the image serves it, on a developer's machine. The development
defaults of settings/dev.py (local keys, the demo sandbox) with production's DEBUG off and the
collected, content-hashed static files served by WhiteNoise under gunicorn. `make dev` keeps
DEBUG and auto-reload (settings/dev.py)."""

from . import base
from .dev import *  # noqa: F403

DEBUG = False
STORAGES = base.STORAGES
