"""Our InvIds for a shop: above the shop's own numbering, never given twice.

Every invoice of a network takes its number from one sequence (the Invoice primary key), so no
number is ever handed out twice. Each shop has a start (`ProviderAccount.invoice_number_start`,
far above a site's own order numbers by default). Before a shop's first invoice, and again after
its start changes, the provider is asked (OpStateExt) whether the shop already has an operation
under the first number we would use, and the sequence is raised to at least that number. From
then on every number for the shop is >= its start, because the sequence only grows.

Raising a sequence (`setval`) is not atomic with a concurrent `nextval`, so every allocation holds
a shared advisory lock of its network and the raise holds it exclusively: a raise never lowers
the sequence below a number already taken.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_providers.base import InvoiceStatus as ProviderStatus
from billing_providers.base import ProviderAccount as ProviderAccountData
from billing_providers.errors import ProviderConfigError
from franchise_platform.network.models import INVOICE_NUMBER_MAX, ProviderAccount

from .providers import provider_get

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(int4, int4): this class, and the network's schema as the object.
LOCK_CLASS = 71_310_001
SEQUENCE = "pg_get_serial_sequence('payments_invoice', 'id')::regclass"
# When the first number is already taken in the shop, look this far ahead (a few times).
JUMP = 1_000_000
PROBES = 3


class InvoiceNumbersTaken(ProviderConfigError):
    """The shop has operations of its own where our numbers would start."""


def invoice_number_next(*, account: ProviderAccount, data: ProviderAccountData) -> int:
    """The next InvId for `account` (>= its start). Call inside the issuing transaction.

    Raises ProviderError when the start is not checked yet and the provider cannot be asked,
    InvoiceNumbersTaken when every probed number is already the shop's own."""
    if account.invoice_numbers_checked_at is None:
        _range_open(account, data)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval({SEQUENCE}) FROM "  # noqa: S608 - constants only
            "(SELECT pg_advisory_xact_lock_shared(%s, hashtext(current_schema()))) AS held",
            [LOCK_CLASS],
        )
        (number,) = cursor.fetchone()
    return int(number)


def _last_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(pg_sequence_last_value({SEQUENCE}), 0)")
        (last,) = cursor.fetchone()
    return int(last)


def _taken(account: ProviderAccount, data: ProviderAccountData, number: int) -> bool:
    provider = provider_get(account.provider)
    if not settings.INVOICE_NUMBER_CHECK or not provider.tells_unused_numbers:
        return False
    state = provider.fetch_invoice_state(data, number)
    return state.status is not ProviderStatus.NOT_FOUND


def _range_open(account: ProviderAccount, data: ProviderAccountData) -> None:
    candidate = max(account.invoice_number_start, _last_number() + 1)
    skipped: list[int] = []
    # Asked before the lock is taken: a slow provider must not stall the network's other visits.
    for _attempt in range(PROBES):
        if candidate > INVOICE_NUMBER_MAX or not _taken(account, data, candidate):
            break
        skipped.append(candidate)
        candidate += JUMP
    else:
        candidate = INVOICE_NUMBER_MAX + 1
    if candidate > INVOICE_NUMBER_MAX:
        logger.warning("invoice numbers of shop %s are taken from %s", account.pk, skipped[:1])
        raise InvoiceNumbersTaken(
            "The shop already has operations where our invoice numbers would start",
            code="invoice_numbers_taken",
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [LOCK_CLASS])
        cursor.execute(
            f"SELECT CASE WHEN COALESCE(pg_sequence_last_value({SEQUENCE}), 0) < %s "
            f"THEN setval({SEQUENCE}, %s, false) END",
            [candidate, candidate],
        )
    account.invoice_numbers_checked_at = timezone.now()
    account.invoice_numbers_problem = (
        _(
            "В магазине уже есть операции с номером %(taken)s: счета платформы выставляются с "
            "номера %(start)s."
        )
        % {"taken": skipped[0], "start": candidate}
        if skipped
        else ""
    )
    ProviderAccount.objects.filter(pk=account.pk).update(
        invoice_numbers_checked_at=account.invoice_numbers_checked_at,
        invoice_numbers_problem=account.invoice_numbers_problem,
    )
