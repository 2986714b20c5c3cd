"""The single-use, short-lived link that carries a new owner from the sign-up page (platform host)
into the panel of the new network (its own host): sessions live per host, so the session cannot be
handed over; a signed token naming the network and the person is, for two minutes, once."""

from __future__ import annotations

import secrets

from django.core import signing
from django.core.cache import cache
from django_tenants.utils import schema_context

from franchise_platform.accounts.models import User

from .models import Network

SALT = "tenants.login-link"
MAX_AGE_SECONDS = 120


def login_link_path(*, network: Network, user: User) -> str:
    """The path on the network's host: /panel/login/link/<token>/."""
    token = signing.dumps(
        {"n": network.slug, "u": str(user.uid), "x": secrets.token_urlsafe(12)}, salt=SALT
    )
    return f"/panel/login/link/{token}/"


def login_link_user(*, token: str, network: Network) -> User | None:
    """The person a valid, fresh, unused token names in `network` (the current schema), or None.
    Using it spends it: a second visit, or a copy in another browser, gets nothing."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:  # expired included (SignatureExpired is a BadSignature)
        return None
    if not isinstance(data, dict) or data.get("n") != network.slug:
        return None
    with schema_context("public"):
        first_use = cache.add(f"login-link:{data.get('x')}", 1, MAX_AGE_SECONDS + 60)
    if not first_use:
        return None
    return User.objects.filter(uid=str(data.get("u") or ""), is_active=True).first()
