"""Reads for people and tokens."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import ApiToken, User, hash_token


def user_for_api_token(*, raw: str) -> User | None:
    """The active user behind a raw Bearer token of the current network, or None."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Bounded write amplification: at most one update per token per minute.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
