"""Celery entry points of the CRM outbox: thin, idempotent, by id, inside the network's schema."""

from __future__ import annotations

from celery import shared_task

from franchise_platform.tasks import NetworkTask


@shared_task(base=NetworkTask, name="crm_sync.outbox_send")
def outbox_send(message_id: str) -> None:
    from .sender import outbox_message_send

    outbox_message_send(message_id=message_id)
