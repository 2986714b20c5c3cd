"""Delivering outbox messages to the CRM (filled in with the amoCRM connector)."""

from __future__ import annotations


def outbox_message_send(*, message_id: str) -> None:
    """Send one outbox message; without a connector yet, messages wait in the outbox."""
    return None
