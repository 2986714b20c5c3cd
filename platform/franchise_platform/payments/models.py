"""Deals, payment links, provider invoices, payments and the callback inbox (network schema)."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.00")


def new_link_token() -> str:
    return secrets.token_urlsafe(16)


class DealStatus(models.TextChoices):
    OPEN = "open", _("Не оплачена")
    PARTIALLY_PAID = "partially_paid", _("Оплачена частично")
    PAID = "paid", _("Оплачена")
    OVERPAID = "overpaid", _("Переплата")
    PARTIALLY_REFUNDED = "partially_refunded", _("Частичный возврат")
    REFUNDED = "refunded", _("Возврат")


class Deal(models.Model):
    """Our mirror of a CRM lead: what it costs, where, and what is paid."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    crm = models.CharField(max_length=32, default="amocrm")
    crm_deal_id = models.BigIntegerField()
    title = models.CharField(max_length=300, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    paid = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    prepayment_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    location = models.ForeignKey(
        "network.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    partner = models.ForeignKey(
        "network.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    status = models.CharField(max_length=20, choices=DealStatus.choices, default=DealStatus.OPEN)
    # Returned to the buyer so far; `paid` is what the deal keeps (received minus returned).
    refunded = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    overpaid_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    # Test-mode payments, shown as «ТЕСТ» and never part of `paid`.
    test_paid = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    # When the service starts (from the lead's date field): a payment at or after it settles
    # instead of being another advance (fiscal.md §1.2).
    service_date = models.DateTimeField(null=True, blank=True)
    # When the service was delivered; settlement receipts follow (fiscal.md §2.4).
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_source = models.CharField(max_length=16, blank=True)
    # The buyer's contact for the receipt, given on the pay page when the provider forms the
    # receipt and needs one before the payment is created (payments/buyer_contact.py).
    buyer_email = models.CharField(max_length=254, blank=True)
    buyer_phone = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["crm", "crm_deal_id"], name="deal_unique_crm_id")
        ]
        indexes = [
            models.Index(fields=["status", "-updated_at"]),
            models.Index(fields=["-created_at"]),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.crm} #{self.crm_deal_id}"

    @property
    def remaining(self) -> Decimal:
        return max(self.total - self.paid, ZERO)


class LinkKind(models.TextChoices):
    PREPAYMENT = "prepayment", _("Предоплата")
    FULL = "full", _("Полная оплата")


class LinkStatus(models.TextChoices):
    ACTIVE = "active", _("Активна")
    PAID = "paid", _("Оплачена")
    CLOSED = "closed", _("Закрыта")


class PaymentLink(models.Model):
    """A stable link of ours (/pay/<token>); each visit resolves to an invoice for the amount due."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=16, choices=LinkKind.choices)
    token = models.CharField(max_length=32, unique=True, default=new_link_token)
    status = models.CharField(max_length=16, choices=LinkStatus.choices, default=LinkStatus.ACTIVE)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "kind"],
                condition=Q(status="active"),
                name="one_active_link_per_kind",
            )
        ]
        # The dashboard's links-issued-in-a-period range (panel/dashboard.py).
        indexes = [models.Index(fields=["created_at"], name="paymentlink_created_idx")]
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind} link of {self.deal}"


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", _("Выставлен")
    PAID = "paid", _("Оплачен")
    EXPIRED = "expired", _("Истёк")
    RETIRED = "retired", _("Отозван")
    # The shop already had an operation of its own under this InvId: never ours, never handed out.
    CONFLICT = "conflict", _("Номер занят в магазине")


class PaymentKind(models.TextChoices):
    PREPAYMENT = "prepayment", _("Предоплата")
    FULL = "full", _("Полная оплата")
    REMAINDER = "remainder", _("Доплата")


class InvoicePurpose(models.TextChoices):
    LINK = "link", _("Оплата по ссылке")
    SHOP_CHECK = "shop_check", _("Проверка магазина")


class Invoice(models.Model):
    """One provider-side payment request. Its id is the provider's InvId (our own sequence).
    A shop check (a test-mode invoice proving the shop is wired) has no deal or link."""

    id = models.BigAutoField(primary_key=True)
    purpose = models.CharField(
        max_length=16, choices=InvoicePurpose.choices, default=InvoicePurpose.LINK
    )
    link = models.ForeignKey(
        PaymentLink, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    provider_account = models.ForeignKey(
        "network.ProviderAccount", on_delete=models.PROTECT, related_name="invoices"
    )
    provider = models.CharField(max_length=32)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    payment_kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED
    )
    is_test = models.BooleanField(default=False)
    # The per-invoice marker sent as a Shp_ field: a notification or an OpStateExt answer about
    # this InvId is ours only if it echoes it (empty on invoices issued before markers existed).
    marker = models.CharField(max_length=32, blank=True)
    # A keyed digest of everything signed into the payment request (amount, shop, test flag,
    # receipt): the invoice is handed out again only while that is still what we would sign.
    fingerprint = models.CharField(max_length=64, blank=True)
    payment_url = models.TextField()
    receipt_json = models.TextField(blank=True)
    # For a provider that creates the payment by API (`issues_over_network`): the key the call
    # carries, stored (committed) before the call so a retry after a crash repeats the same
    # request, and the provider's id of the payment once it answered (YooKassa's payment id).
    idempotence_key = models.CharField(max_length=64, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    # Issued at or after the start of the service: its receipt is `full_payment`, no advance
    # to settle later (fiscal.md §1.2).
    settles_service = models.BooleanField(default=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"invoice {self.id} ({self.amount})"


class PaymentSource(models.TextChoices):
    CALLBACK = "callback", _("Уведомление провайдера")
    RECONCILIATION = "reconciliation", _("Сверка с провайдером")


class Payment(models.Model):
    """An invoice the provider confirmed. One per invoice, whatever the number of callbacks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="payment")
    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="payments")
    partner = models.ForeignKey(
        "network.Partner", on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    source = models.CharField(
        max_length=16, choices=PaymentSource.choices, default=PaymentSource.CALLBACK
    )
    is_test = models.BooleanField(default=False)
    # Paid on an invoice that had been superseded (re-priced, closed or retired link): real money,
    # recorded, and what it brought beyond the deal's total is due back to the buyer.
    superseded = models.BooleanField(default=False)
    refund_due = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    paid_at = models.DateTimeField()
    # Where the buyer's receipts go (54-ФЗ art. 1.2 p. 5): the e-mail given at payment
    # (Robokassa's EMail), else the lead's contact; the settlement receipt needs one of them.
    buyer_email = models.CharField(max_length=254, blank=True)
    buyer_phone = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-paid_at"]), models.Index(fields=["partner", "-paid_at"])]
        ordering = ["-paid_at"]

    def __str__(self) -> str:
        return f"payment {self.amount} for invoice {self.invoice_id}"


class CallbackStatus(models.TextChoices):
    PENDING = "pending", _("Ожидает обработки")
    APPLIED = "applied", _("Применено")
    REFUSED = "refused", _("Отклонено")


class CallbackEvent(models.Model):
    """The inbox: every provider notification as received, accepted or refused, kept for the owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32)
    partner = models.ForeignKey(
        "network.Partner", null=True, on_delete=models.SET_NULL, related_name="callbacks"
    )
    provider_account = models.ForeignKey(
        "network.ProviderAccount", null=True, on_delete=models.SET_NULL, related_name="callbacks"
    )
    invoice_number = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    is_test = models.BooleanField(default=False)
    accepted = models.BooleanField(default=False)
    reason_code = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # The e-mail the buyer gave on the provider's page (verified with the notification).
    buyer_email = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=16, choices=CallbackStatus.choices, default=CallbackStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_account", "invoice_number"],
                condition=Q(accepted=True),
                name="one_accepted_callback_per_invoice",
            )
        ]
        indexes = [models.Index(fields=["status", "received_at"])]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.provider} callback for {self.invoice_number}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Отправляется")
    PROCESSING = "processing", _("Выполняется")
    FINISHED = "finished", _("Выполнен")
    CANCELED = "canceled", _("Отменён")
    FAILED = "failed", _("Отклонён")
    # No answer to the request: it may exist at the provider. Never re-sent automatically (the
    # Refund API has no idempotency key); a person checks the provider's cabinet.
    UNKNOWN = "unknown", _("Неизвестно: проверьте кабинет")


# What a refund holds of its payment: everything but a refusal or a cancellation.
REFUND_HOLDING = (
    RefundStatus.PENDING,
    RefundStatus.PROCESSING,
    RefundStatus.FINISHED,
    RefundStatus.UNKNOWN,
)


class RefundSource(models.TextChoices):
    PLATFORM = "platform", _("Возврат через платформу")
    PROVIDER = "provider", _("Возврат не платформой (кабинет, чарджбэк)")
    # Made by the partner in the provider's cabinet and entered in the panel (a partial refund
    # there is not visible through the provider's API, fiscal.md §5).
    CABINET = "cabinet", _("Возврат в кабинете провайдера (внесён вручную)")


class RefundReceipt(models.TextChoices):
    """The refund receipt («возврат прихода», fiscal.md §3, §5)."""

    NOT_REQUIRED = "not_required", _("Не нужен: магазин без фискализации")
    PROVIDER = "provider", _("Формирует Robokassa по позициям возврата")
    ISSUED = "issued", _("Сформирован Robokassa")
    # A refund made elsewhere: Robokassa is not known to issue a receipt; the partner decides.
    MANUAL = "manual", _("Решает партнёр (возврат сделан не платформой)")


class Refund(models.Model):
    """Money of one payment returned to the buyer, asked for by us or noticed at the provider."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    source = models.CharField(
        max_length=16, choices=RefundSource.choices, default=RefundSource.PLATFORM
    )
    receipt = models.CharField(max_length=16, choices=RefundReceipt.choices)
    idempotency_key = models.CharField(max_length=200, blank=True)
    # Who asked (e-mail; empty for a refund noticed at the provider). Not a foreign key: users
    # also live in the public schema, where a deletion must not reach a network's table.
    requested_by = models.CharField(max_length=254, blank=True)
    provider_request_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True)
    # The deal, its links and the lead took this refund into account (exactly once).
    applied = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="refund_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["provider_request_id"],
                condition=~Q(provider_request_id=""),
                name="refund_unique_provider_request",
            ),
            # A refund noticed at the provider (OpStateExt State 60) is recorded once per
            # operation, whatever the number of polls.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(source="provider"),
                name="refund_one_noticed_per_payment",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_check_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"refund {self.amount} of payment {self.payment_id}"


class SettlementReceiptStatus(models.TextChoices):
    QUEUED = "queued", _("В очереди")
    SENT = "sent", _("Отправлен, ждёт регистрации")
    REGISTERED = "registered", _("Зарегистрирован")
    FAILED = "failed", _("Ошибка")


# Settlement receipt numbers live far above every InvId (≤ 2³¹−1): the provider's `id` must
# never equal an operation's number (fiscal.md §2.1).
SETTLEMENT_NUMBER_BASE = 1_000_000_000_000


class SettlementReceipt(models.Model):
    """The second receipt (`full_payment`, the advance offset) of one paid operation, sent once
    the service is delivered. One per payment: it is never sent twice."""

    id = models.BigAutoField(primary_key=True)
    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="settlement_receipt"
    )
    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="settlement_receipts")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(
        max_length=16,
        choices=SettlementReceiptStatus.choices,
        default=SettlementReceiptStatus.QUEUED,
    )
    # The fiscal attributes of the receipt as sent (the partner's settings at that time).
    tax_system = models.CharField(max_length=32)
    vat = models.CharField(max_length=16)
    item_name = models.CharField(max_length=128)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    # Queued, but nowhere to send it yet: neither the payment nor the lead's contact has an
    # e-mail or a phone. Listed for a person; the lead's contact is asked again until found.
    waiting_for_contact = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    fiscal = models.JSONField(default=dict, blank=True)
    # The provider's own id of the receipt when it names it (YooKassa's ``rt-…``): status checks
    # go by it (``SettlementReceiptResult.operation_key``).
    provider_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"settlement receipt {self.number} of payment {self.payment_id}"

    @property
    def number(self) -> int:
        """The receipt's `id` at the provider, kept for every retry and status check."""
        return SETTLEMENT_NUMBER_BASE + self.pk
