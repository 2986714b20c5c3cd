"""Writes for people and tokens."""

from __future__ import annotations

import secrets

from django.utils import timezone

from .models import ApiToken, Role, User, hash_token

TOKEN_PREFIX = "fp_"


def user_create(
    *, email: str, password: str | None, role: str = Role.VIEWER, full_name: str = ""
) -> User:
    return User.objects.create_user(email=email, password=password, role=role, full_name=full_name)


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw value, which is never stored or shown again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name, user=user, prefix=raw[: len(TOKEN_PREFIX) + 6], token_hash=hash_token(raw)
    )
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
