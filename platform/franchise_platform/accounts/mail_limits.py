"""Budgets of the e-mails anybody can make the platform send (password reset, e-mail verification),
so that nobody can bomb a mailbox through us. Counted per client address and per recipient,
whether or not an account has that address: the answer never tells which."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from franchise_platform.rate_limits import budget_spend, email_key
from franchise_platform.request_context import client_ip_bucket

HOUR = 3600


def mail_request_refusal(*, recipient: str, ip: str | None) -> str | None:
    """Count one e-mail to `recipient` asked for from `ip` (None: no client address, e.g. the
    sign-up's own verification e-mail). None when it may go; otherwise the reason, in Russian."""
    if ip is not None and not budget_spend(
        key=f"mail-rate:addr:{client_ip_bucket(ip)}",
        limit=int(settings.EMAIL_REQUESTS_PER_ADDRESS_PER_HOUR),
        window_seconds=HOUR,
    ):
        return _("Слишком много запросов писем с вашего адреса. Попробуйте через час.")
    if not budget_spend(
        key=f"mail-rate:to:{email_key(recipient)}",
        limit=int(settings.EMAILS_PER_RECIPIENT_PER_HOUR),
        window_seconds=HOUR,
    ):
        return _(
            "Слишком много писем на этот e-mail за последний час. Если письмо уже пришло, "
            "воспользуйтесь ссылкой из него; иначе попробуйте через час."
        )
    return None
