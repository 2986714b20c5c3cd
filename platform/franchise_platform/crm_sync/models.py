"""The network's CRM connection and the outbox of CRM updates (network schema)."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from franchise_platform.security.fields import EncryptedField


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(24)


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", _("Подключено")
    REVOKED = "revoked", _("Доступ отозван")
    ERROR = "error", _("Ошибка")


class CrmConnection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    crm = models.CharField(max_length=32, default="amocrm")
    # The CRM's own account id as a string: amoCRM's integer in decimal, Bitrix24's `member_id`.
    account_id = models.CharField(max_length=64)
    subdomain = models.CharField(max_length=200, blank=True)
    base_url = models.CharField(max_length=300)
    access_token = EncryptedField(null=True, blank=True)
    refresh_token = EncryptedField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    field_map = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    last_error = models.CharField(max_length=500, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The circuit breaker of this account (crm_sync/breaker.py); the row is its only state, so a
    # lost Redis loses nothing. Closed while `breaker_open_since` is empty.
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_since = models.DateTimeField(null=True, blank=True)
    breaker_probes = models.PositiveIntegerField(default=0)
    breaker_probe_at = models.DateTimeField(null=True, blank=True)
    breaker_probe_until = models.DateTimeField(null=True, blank=True)
    # Pipelines (CrmPipeline rows) were last read from the CRM at this time.
    pipelines_read_at = models.DateTimeField(null=True, blank=True)
    # A lead's location from its pipeline's mapping even when the select field names one
    # (networks that keep one pipeline per branch); otherwise only when the field is empty.
    location_from_pipeline = models.BooleanField(default=False)
    # The events some pipeline maps to a stage (kept by crm_sync/stages.py): a payment whose
    # event nobody mapped costs no query to find that out.
    mapped_stage_events = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crm", "account_id"], name="crm_connection_unique_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.crm} account {self.account_id}"


class OutboxKind(models.TextChoices):
    DEAL_STATE = "deal_state", _("Состояние сделки")
    NOTE = "note", _("Примечание")
    FIELDS_SYNC = "fields_sync", _("Поля и локации")
    LEAD_STAGE = "lead_stage", _("Этап сделки")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("В очереди")
    SENT = "sent", _("Отправлено")
    DEAD = "dead", _("Не доставлено")


class OutboxMessage(models.Model):
    """One change to deliver to the CRM. Written in the same transaction as the change itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(
        CrmConnection, null=True, on_delete=models.CASCADE, related_name="outbox"
    )
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    deal = models.ForeignKey(
        "payments.Deal", null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Retries are bounded by time, not by a count: OUTBOX_RETRY_HOURS from here (or from
    # `created_at`); a manual retry of a dead row starts a new window.
    retry_since = models.DateTimeField(null=True, blank=True)
    # When the owner was told by e-mail that this row is dead (one e-mail per batch of rows).
    dead_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.status}"


class StageEvent(models.TextChoices):
    """What happened to a deal that the owner may map to a stage of each pipeline."""

    PREPAYMENT_PAID = "prepayment_paid", _("Внесена предоплата")
    FULLY_PAID = "fully_paid", _("Оплачено полностью")
    REFUNDED = "refunded", _("Оформлен возврат")
    SETTLEMENT_FAILED = "settlement_failed", _("Чек расчёта не пробит")


class CrmPipeline(models.Model):
    """One pipeline of the connected account as last read from the CRM, with the owner's
    mapping: event → stage to move a lead of this pipeline to, and the location of its leads."""

    connection = models.ForeignKey(
        CrmConnection, on_delete=models.CASCADE, related_name="pipelines"
    )
    pipeline_id = models.CharField(max_length=32)
    name = models.CharField(max_length=300, blank=True)
    sort = models.IntegerField(default=0)
    is_archive = models.BooleanField(default=False)
    # [{"id": "...", "name": "...", "sort": 10, "kind": "open"}] in the pipeline's order.
    stages = models.JSONField(default=list, blank=True)
    # {"prepayment_paid": "<stage id>", ...}; an event not listed moves nothing.
    stage_map = models.JSONField(default=dict, blank=True)
    # The stages of this pipeline in which a lead counts as delivered (["142", ...]), chosen in
    # the panel; null: the network's `delivered_status_ids` (amoCRM's 142 by default).
    delivered_stages = models.JSONField(null=True, blank=True)
    location = models.ForeignKey(
        "network.Location",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="crm_pipelines",
    )

    class Meta:
        ordering = ["sort", "pipeline_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "pipeline_id"], name="crm_pipeline_unique_per_connection"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pipeline_id})"


class DealStageEvent(models.Model):
    """An event raised for a deal: one row per (deal, event), so a lead is moved once per event
    whatever the number of callbacks, retries or flows that raise it."""

    deal = models.ForeignKey("payments.Deal", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=32, choices=StageEvent.choices)
    message = models.ForeignKey(
        OutboxMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "event"], name="deal_stage_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.deal_id}"
