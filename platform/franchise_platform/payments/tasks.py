"""Celery entry points of the payment flow: thin, idempotent, by id, inside the network's schema."""

from __future__ import annotations

import logging

from celery import shared_task

from franchise_platform.tasks import NetworkTask

logger = logging.getLogger(__name__)


@shared_task(base=NetworkTask, name="payments.callback_apply")
def callback_apply_task(event_id: str) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.flows.payment import callback_apply

    callback_apply(event_id=event_id)


@shared_task(base=NetworkTask, name="payments.callback_apply_batch")
def callback_apply_batch_task(event_ids: list[str]) -> None:
    """Several stored callbacks of one network handed over at once (payments/handoff.py). Each is
    applied on its own; one that fails is queued alone, with the single task's own handling."""
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.flows.payment import callback_apply

    for event_id in event_ids:
        try:
            callback_apply(event_id=event_id)
        except Exception:
            logger.exception("callback %s not applied in its batch; queued alone", event_id)
            callback_apply_task.delay(event_id)


@shared_task(base=NetworkTask, name="payments.refund_poll")
def refund_poll_task(refund_id: str) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.flows.refund import refund_poll

    refund_poll(refund_id=refund_id)


@shared_task(base=NetworkTask, name="payments.settlement_receipt")
def settlement_receipt_task(receipt_id: int) -> None:
    # local: task body; tasks modules stay import-light so that services import them at the top
    from franchise_platform.flows.settlement import settlement_receipt_process

    settlement_receipt_process(receipt_id=receipt_id)
