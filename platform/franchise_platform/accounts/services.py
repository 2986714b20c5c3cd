"""Writes for people, API tokens and the second factor (TOTP)."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from franchise_platform.security.audit import audit_record

from .models import ApiToken, Role, User, hash_token

TOKEN_PREFIX = "fp_"


def user_create(
    *, email: str, password: str | None, role: str = Role.VIEWER, full_name: str = ""
) -> User:
    return User.objects.create_user(email=email, password=password, role=role, full_name=full_name)


def api_token_create(
    *, user: User, name: str, actor: str | None = None, ip_address: str | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw value, which is never stored or shown again.
    With an `actor` (a person acting in the panel) the creation is audited; the value never is."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        name=name, user=user, prefix=raw[: len(TOKEN_PREFIX) + 6], token_hash=hash_token(raw)
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action="api_token.create",
            obj=token,
            changes={"name": (None, name), "user": (None, user.email)},
            ip_address=ip_address,
        )
    return token, raw


def api_token_revoke(
    *, token: ApiToken, actor: str | None = None, ip_address: str | None = None
) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        if actor is not None:
            audit_record(actor=actor, action="api_token.revoke", obj=token, ip_address=ip_address)


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """A fresh, unconfirmed authenticator device; a half-finished earlier setup is discarded so that
    only the QR code on screen can ever be confirmed."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_device_confirm(
    *, device: TOTPDevice, code: str, actor: str, ip_address: str | None = None
) -> bool:
    """Confirm a device with a code from the app; from then on login asks for a code. False when the
    code is wrong (attempts are throttled by django-otp)."""
    if not device.verify_token(code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(actor=actor, action="totp.enable", obj=device.user, ip_address=ip_address)
    return True


def totp_disable(
    *, user: User, device: TOTPDevice, code: str, actor: str, ip_address: str | None = None
) -> bool:
    """Turn the second factor off; a current code proves the phone is still at hand."""
    if not device.verify_token(code):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    audit_record(actor=actor, action="totp.disable", obj=user, ip_address=ip_address)
    return True
