"""Celery entry points of the CRM side: thin, idempotent, by id."""

from __future__ import annotations

from celery import shared_task

from franchise_platform.tasks import NetworkTask, PlatformTask


@shared_task(base=NetworkTask, name="crm_sync.outbox_send")
def outbox_send(message_id: str) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .sender import outbox_message_send

    outbox_message_send(message_id=message_id)


@shared_task(
    base=NetworkTask,
    name="crm_sync.webhook_subscribe",
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=8,
)
def crm_webhook_subscribe() -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .webhooks import webhook_subscribe

    webhook_subscribe()


@shared_task(base=NetworkTask, name="crm_sync.lead_refresh")
def lead_refresh(lead_id: int) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.flows.refresh import lead_refresh as refresh

    refresh(lead_id=lead_id)


@shared_task(base=NetworkTask, name="crm_sync.payment_contact_fill")
def payment_contact_fill(payment_id: str) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .contacts import payment_contact_fill as fill

    fill(payment_id=payment_id)


@shared_task(base=PlatformTask, name="crm_sync.marketplace_install_complete")
def marketplace_install_complete(pending_id: str) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .installs import pending_install_exchange

    pending_install_exchange(pending_id=pending_id)


@shared_task(base=PlatformTask, name="crm_sync.pending_installs_sweep")
def pending_installs_sweep() -> dict[str, int]:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .installs import pending_installs_sweep as sweep

    return sweep()


@shared_task(base=NetworkTask, name="crm_sync.events_catch_up")
def crm_events_catch_up() -> int:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .catchup import crm_events_catch_up as catch_up

    return catch_up()


@shared_task(base=PlatformTask, name="crm_sync.events_catch_up_all")
def crm_events_catch_up_all() -> list[str]:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from .catchup import crm_events_catch_up_networks

    return crm_events_catch_up_networks()
