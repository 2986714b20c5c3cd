"""Writes for people, API tokens and the second factor (TOTP)."""

from __future__ import annotations

import secrets
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from franchise_platform.security.audit import audit_record

from .models import ApiToken, Role, User, hash_token

TOKEN_PREFIX = "fp_"


def user_create(
    *,
    email: str,
    password: str | None,
    role: str = Role.VIEWER,
    full_name: str = "",
    partner_id: uuid.UUID | None = None,
) -> User:
    """`partner_id`: the one partner a `partner` user is confined to (required for that role,
    refused for the others by the table's check constraint)."""
    return User.objects.create_user(
        email=email, password=password, role=role, full_name=full_name, partner_id=partner_id
    )


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


def totp_verify(*, device: TOTPDevice, code: str) -> bool:
    """True when `code` is the app's current code (within the device's tolerance) and its time-step
    is newer than any accepted before: each code opens one door once.

    django-otp's own verify_token compares with this Python copy's `last_t` and then saves the
    whole row, so two requests carrying one code at the same moment both pass. Here the step is
    claimed by one conditional UPDATE (last_t < step): of any number of such requests exactly one
    matches the row. A wrong or replayed code counts towards django-otp's doubling wait."""
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if (
        code.isascii()
        and code.isdigit()
        and totp.verify(int(code), device.tolerance, device.last_t + 1)
    ):
        step = totp.t()
        drift = totp.drift if getattr(settings, "OTP_TOTP_SYNC", True) else device.drift
        claimed = TOTPDevice.objects.filter(pk=device.pk, last_t__lt=step).update(
            last_t=step,
            drift=drift,
            throttling_failure_count=0,
            throttling_failure_timestamp=None,
            last_used_at=timezone.now(),
        )
        if claimed:
            device.last_t, device.drift = step, drift
            device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
            return True
    now = timezone.now()
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=F("throttling_failure_count") + 1,
        throttling_failure_timestamp=now,
    )
    device.refresh_from_db(fields=["throttling_failure_count", "throttling_failure_timestamp"])
    return False


def totp_device_confirm(
    *, device: TOTPDevice, code: str, actor: str, ip_address: str | None = None
) -> bool:
    """Confirm a device with a code from the app; from then on login asks for a code. False when the
    code is wrong (attempts are throttled, see totp_verify)."""
    if not totp_verify(device=device, code=code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(actor=actor, action="totp.enable", obj=device.user, ip_address=ip_address)
    return True


def totp_disable(
    *, user: User, device: TOTPDevice, code: str, actor: str, ip_address: str | None = None
) -> bool:
    """Turn the second factor off; a current code proves the phone is still at hand."""
    if not totp_verify(device=device, code=code):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    audit_record(actor=actor, action="totp.disable", obj=user, ip_address=ip_address)
    return True
