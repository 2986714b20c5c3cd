"""Proving a person owns their e-mail address: a signed link, valid for a few days, that stamps
`User.email_verified_at`. The token names the address it was sent to, so a link mailed before the
address changed proves nothing about the new one."""

from __future__ import annotations

import logging

from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import User

logger = logging.getLogger(__name__)

SALT = "accounts.email-verification"
MAX_AGE_SECONDS = 3 * 24 * 3600


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"u": str(user.uid), "e": user.email}, salt=SALT)


def email_verification_send(*, user: User, base_url: str, network_name: str) -> bool:
    """Mail the link to the person's address (in the current network's schema); False, logged,
    when the mail server refused: the panel keeps offering to send it again."""
    link = f"{base_url.rstrip('/')}/panel/verify-email/{email_verification_token(user=user)}/"
    context = {"link": link, "network_name": network_name, "email": user.email}
    with translation.override(translation.get_language() or "ru"):
        subject = render_to_string("public/email/verify_subject.txt", context).strip()
        body = render_to_string("public/email/verify_body.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # a mail outage must not undo a sign-up; the reason is in the log
        logger.exception("verification e-mail not sent")
        return False
    return True


def email_verify(*, token: str) -> User | None:
    """The person whose address the token proves, now marked verified; None for a bad, expired or
    outdated token. Idempotent: a second click finds the address already verified."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = User.objects.filter(
        uid=str(data.get("u") or ""), email=str(data.get("e") or ""), is_active=True
    ).first()
    if user is not None and user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user
