"""Reads for people and tokens."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def totp_device_get(*, user: User, confirmed: bool = True) -> TOTPDevice | None:
    """The person's authenticator device (confirmed, or the one being set up), or None."""
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-id").first()


def api_tokens_visible_to(*, user: User) -> QuerySet[ApiToken]:
    """The owner sees every token of the network; others see their own."""
    tokens = ApiToken.objects.select_related("user").order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at"
    )
    return tokens if user.is_owner else tokens.filter(user=user)
