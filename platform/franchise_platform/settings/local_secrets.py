"""Secrets of a development checkout, generated once into the git-ignored `.local/` folder (as
scripts/lib.sh `ensure_local_keys` does for `make run`), so that no instance runs on a key anyone
can read in the repository: with a published SECRET_KEY anyone could sign values the platform
trusts, e.g. the OAuth `state` that binds an amoCRM account to a network."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def local_secret_key(path: Path) -> str:
    """The key stored at `path`, created (mode 600) when missing. Processes starting together (web,
    worker, beat) agree on one key: each writes its own candidate and hard-links it into place,
    which succeeds for exactly one of them."""
    key = path.read_text().strip() if path.exists() else ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass  # another process was first: its key is the one
    finally:
        candidate.unlink()
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it and start again to generate a key.")
    return key
