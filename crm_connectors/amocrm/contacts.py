"""The lead's buyer as amoCRM holds it: the lead's linked contacts (``with=contacts``) and the
main one's EMAIL / PHONE multitext fields, addressed by ``field_code`` (amocrm.md §2.1)."""

from __future__ import annotations

from typing import Any

from crm_connectors.base import BuyerContact

EMAIL_CODE = "EMAIL"
PHONE_CODE = "PHONE"


def main_contact_id(lead: Any) -> int | None:
    """The id of the lead's main contact, else of its first linked one; None without any."""
    embedded = lead.get("_embedded") if isinstance(lead, dict) else None
    contacts = embedded.get("contacts") if isinstance(embedded, dict) else None
    linked = [
        c
        for c in (contacts if isinstance(contacts, list) else [])
        if isinstance(c, dict) and isinstance(c.get("id"), int) and not isinstance(c["id"], bool)
    ]
    if not linked:
        return None
    main = next((c for c in linked if c.get("is_main") is True), linked[0])
    return int(main["id"])


def _first_value(values: object, code: str) -> str | None:
    for item in values if isinstance(values, list) else []:
        if not isinstance(item, dict) or item.get("field_code") != code:
            continue
        for value in item.get("values") or []:
            text = value.get("value") if isinstance(value, dict) else None
            if isinstance(text, str) and text.strip():
                return text.strip()
    return None


def buyer_contact_from_api(contact: Any) -> BuyerContact:
    """The first non-empty e-mail and phone of a contact as ``GET /api/v4/contacts/{id}``
    answers it (``custom_fields_values`` may be null)."""
    values = contact.get("custom_fields_values") if isinstance(contact, dict) else None
    return BuyerContact(
        email=_first_value(values, EMAIL_CODE), phone=_first_value(values, PHONE_CODE)
    )
