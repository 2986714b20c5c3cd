"""The buyer's contact from the lead (fiscal.md §7): where a receipt goes when the payment's
notification carried none (a payment recorded by reconciliation: OpStateExt carries no e-mail).
The payment's own `EMail` always comes first; the lead's main contact fills in only
a payment that has neither an e-mail nor a phone."""

from __future__ import annotations

import logging
import re
import uuid

from crm_connectors.errors import CrmError
from franchise_platform.payments.models import Deal, Payment

from .connectors import connector_for
from .models import ConnectionStatus
from .outbox import outbox_target

logger = logging.getLogger(__name__)

EMAIL_SHAPE = re.compile(r"[^@\s<>\"]{1,64}@[^@\s<>\"]+\.[^@\s<>\"]+")


def email_clean(value: str | None) -> str:
    """A CRM's e-mail is typed by a manager: kept only when it looks like an address."""
    text = (value or "").strip()
    return text if len(text) <= 254 and EMAIL_SHAPE.fullmatch(text) else ""


def phone_clean(value: str | None) -> str:
    """A phone as the receipt wants it (fiscal.md §7: `7XXXXXXXXXX`): its digits, a Russian
    number's leading 8 (or missing 7) made 7; "" when that is not 11 to 15 digits."""
    digits = "".join(ch for ch in (value or "") if ch in "0123456789")
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return digits if 11 <= len(digits) <= 15 else ""


def lead_buyer_contact(*, deal: Deal) -> tuple[str, str] | None:
    """(e-mail, phone) of the deal's lead's main contact, checked and normalised, either may be
    ""; None when no CRM is connected for the deal, the CRM did not answer or the lead has no
    usable contact. Never raises for the CRM's trouble (the caller asks again later)."""
    connection = outbox_target(deal)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        return None
    try:
        contact = connector_for(connection, background=True).read_lead_contact(deal.crm_deal_id)
    except CrmError as exc:
        logger.info("lead %s: contact not read (%s)", deal.crm_deal_id, exc.code)
        return None
    if contact is None:
        return None
    email, phone = email_clean(contact.email), phone_clean(contact.phone)
    return (email, phone) if email or phone else None


def payment_contact_fill(*, payment_id: uuid.UUID | str) -> bool:
    """Give a live payment that has neither e-mail nor phone its lead's contact. True when the
    payment has a contact afterwards. Idempotent; the notification's e-mail is never replaced."""
    payment = Payment.objects.select_related("deal").filter(pk=payment_id).first()
    if payment is None or payment.is_test:
        return False
    if payment.buyer_email or payment.buyer_phone:
        return True
    found = lead_buyer_contact(deal=payment.deal)
    if found is None:
        return False
    email, phone = found
    Payment.objects.filter(pk=payment.pk, buyer_email="", buyer_phone="").update(
        buyer_email=email, buyer_phone=phone
    )
    logger.info(
        "payment %s: buyer contact taken from lead %s", payment.pk, payment.deal.crm_deal_id
    )
    return True
